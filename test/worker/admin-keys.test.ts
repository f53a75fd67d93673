import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { hashAdminKey } from "../../src/admin/keys";
import { adminKeys } from "../../src/db/schema";
import { stores } from "./support/app";
import { admin, adminJson, createTenant, PLATFORM_KEY } from "./support/admin";

type Key = { id: string; key?: string; displayPrefix: string; lastUsedAt: string | null; revokedAt: string | null };

describe("admin keys and tenants", () => {
  it("the platform key creates a tenant with a first key shown once: sk_dev_ + 43 base64url chars, only its SHA-256 stored", async () => {
    const { status, body } = await adminJson<{ tenant: { id: string; name: string }; key: Key & { key: string } }>(
      admin("/tenants", { key: PLATFORM_KEY, json: { name: "Acme" } }),
    );
    expect(status).toBe(201);
    expect(body.tenant).toMatchObject({ name: "Acme", id: expect.stringMatching(/^tn_/) });
    expect(body.key.key).toMatch(/^sk_dev_[A-Za-z0-9_-]{43}$/);
    expect(body.key.key.startsWith(body.key.displayPrefix)).toBe(true);
    expect(body.key.displayPrefix).toHaveLength("sk_dev_".length + 8);

    const { db } = stores();
    const [stored] = await db.select().from(adminKeys).where(eq(adminKeys.id, body.key.id));
    expect(stored!.keyHash).toBe(await hashAdminKey(body.key.key));
    expect(JSON.stringify(stored)).not.toContain(body.key.key);

    // Listing never shows the key again.
    const list = await adminJson<{ items: Key[] }>(admin("/keys", { key: body.key.key }));
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(1);
    expect(list.body.items[0]).not.toHaveProperty("key");
  });

  it("a chosen tenant id is kept; taking it twice is 409 conflict and writes no key", async () => {
    const id = `acme_${crypto.randomUUID().slice(0, 8)}`;
    expect((await adminJson(admin("/tenants", { key: PLATFORM_KEY, json: { id, name: "A" } }))).status).toBe(201);
    const again = await adminJson<{ error: { code: string } }>(admin("/tenants", { key: PLATFORM_KEY, json: { id, name: "B" } }));
    expect(again).toMatchObject({ status: 409, body: { error: { code: "conflict" } } });
    const { db } = stores();
    expect(await db.select().from(adminKeys).where(eq(adminKeys.tenantId, id))).toHaveLength(1);
  });

  it("the platform key mints more keys for a tenant; an unknown tenant is 404", async () => {
    const tenant = await createTenant();
    const minted = await adminJson<Key & { key: string }>(admin(`/tenants/${tenant.tenantId}/keys`, { key: PLATFORM_KEY, json: { name: "ci" } }));
    expect(minted.status).toBe(201);
    expect((await admin("/templates", { key: minted.body.key })).res.status).toBe(200);
    const unknown = await adminJson<{ error: { code: string } }>(admin("/tenants/tn_doesnotexist12345/keys", { key: PLATFORM_KEY, json: {} }));
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: "tenant_not_found" } } });
  });

  it("401 without a key or with an unknown one (with a Bearer challenge); 403 for the wrong kind of key", async () => {
    const tenant = await createTenant();
    const none = await adminJson<{ error: { code: string } }>(admin("/templates", { key: "" }));
    expect(none).toMatchObject({ status: 401, body: { error: { code: "unauthorized" } } });
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    expect((await admin("/templates", { key: "sk_dev_notakeyatallnotakeyatallnotakeyatall0000" })).res.status).toBe(401);
    expect((await admin("/templates", { key: "wrong-platform-key" })).res.status).toBe(401);

    const platformOnTenantRoute = await adminJson<{ error: { code: string } }>(admin("/templates", { key: PLATFORM_KEY }));
    expect(platformOnTenantRoute).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    const tenantOnPlatformRoute = await adminJson<{ error: { code: string } }>(admin("/tenants", { key: tenant.key, json: { name: "x" } }));
    expect(tenantOnPlatformRoute).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
  });

  it("rotation without downtime: two keys work at once; a revoked key fails on the very next request", async () => {
    const tenant = await createTenant();
    const second = await adminJson<Key & { key: string }>(admin("/keys", { key: tenant.key, json: { name: "next" } }));
    expect(second.status).toBe(201);
    expect((await admin("/templates", { key: tenant.key })).res.status).toBe(200);
    expect((await admin("/templates", { key: second.body.key })).res.status).toBe(200);

    const revoked = await adminJson<Key>(admin(`/keys/${tenant.keyId}`, { key: second.body.key, method: "DELETE" }));
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).not.toBeNull();
    expect((await admin("/templates", { key: tenant.key })).res.status).toBe(401);
    expect((await admin("/templates", { key: second.body.key })).res.status).toBe(200);

    // Revoking again keeps the first time; the key stays listed as revoked.
    const again = await adminJson<Key>(admin(`/keys/${tenant.keyId}`, { key: second.body.key, method: "DELETE" }));
    expect(again.body.revokedAt).toBe(revoked.body.revokedAt);
    const list = await adminJson<{ items: Key[] }>(admin("/keys", { key: second.body.key }));
    expect(list.body.items.map((k) => [k.id, k.revokedAt !== null])).toEqual([
      [second.body.id, false],
      [tenant.keyId, true],
    ]);
  });

  it("lastUsedAt is recorded on use, and not written again within a minute", async () => {
    const tenant = await createTenant();
    const { db } = stores();
    const lastUsed = async () => (await db.select().from(adminKeys).where(eq(adminKeys.id, tenant.keyId)))[0]!.lastUsedAt;
    expect(await lastUsed()).toBeNull();
    const first = await admin("/templates", { key: tenant.key });
    await first.settled();
    const recorded = await lastUsed();
    expect(recorded).not.toBeNull();
    const second = await admin("/templates", { key: tenant.key });
    await second.settled();
    expect((await lastUsed())?.getTime()).toBe(recorded!.getTime());

    // A use recorded more than a minute ago is recorded anew.
    await db.update(adminKeys).set({ lastUsedAt: new Date(Date.now() - 120_000) }).where(eq(adminKeys.id, tenant.keyId));
    const third = await admin("/templates", { key: tenant.key });
    await third.settled();
    expect((await lastUsed())!.getTime()).toBeGreaterThan(Date.now() - 60_000);
  });
});
