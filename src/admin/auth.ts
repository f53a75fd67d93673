import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { Config } from "../config";
import type { Database } from "../db/client";
import { findAdminKeyByHash, touchAdminKey } from "../db/admin-queries";
import type { GateEnv } from "../env";
import { ApiError } from "../errors";
import { hashAdminKey, secretsEqual } from "./keys";

/** `lastUsedAt` is written at most this often per key, in seconds. */
export const LAST_USED_INTERVAL_S = 60;

/** Who a valid admin credential is. */
export type AdminPrincipal = { kind: "platform" } | { kind: "tenant"; tenantId: string; keyId: string };

/** Set by `tenantGate`: the tenant every query of the request is scoped to. */
export interface TenantVariables {
  tenantId: string;
  adminKeyId: string;
}

const CHALLENGE = { "www-authenticate": 'Bearer realm="parley-admin"' };

function unauthorized(message: string): ApiError {
  return new ApiError("unauthorized", { message, headers: CHALLENGE });
}

/**
 * The principal of a bearer credential: the platform key (`ADMIN_API_KEY`), or an unrevoked
 * tenant key, looked up by its SHA-256. A revoked key stops working on the very next request,
 * since every request reads the key row. `onUse` receives the write that records the use, when
 * one is due (at most once per key per `LAST_USED_INTERVAL_S`), for the caller's `waitUntil`.
 */
export async function authenticateAdmin(
  { db, config }: { db: Database; config: Pick<Config, "adminApiKey"> },
  credential: string,
  { now = Date.now(), onUse }: { now?: number; onUse: (write: Promise<void>) => void },
): Promise<AdminPrincipal | null> {
  if (!credential.startsWith("sk_")) return (await secretsEqual(credential, config.adminApiKey)) ? { kind: "platform" } : null;
  const key = await findAdminKeyByHash(db, { keyHash: await hashAdminKey(credential) });
  if (!key || key.revokedAt) return null;
  if (!key.lastUsedAt || now - key.lastUsedAt.getTime() >= LAST_USED_INTERVAL_S * 1000) {
    onUse(
      touchAdminKey(db, { keyId: key.id, minIntervalS: LAST_USED_INTERVAL_S }).catch((error: unknown) =>
        console.error("recording an admin key's use failed", { keyId: key.id, error: String(error) }),
      ),
    );
  }
  return { kind: "tenant", tenantId: key.tenantId, keyId: key.id };
}

async function principalOf(c: Pick<Context<GateEnv>, "req" | "var" | "executionCtx">): Promise<AdminPrincipal> {
  const match = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "");
  if (!match) throw unauthorized("Send an admin key as `Authorization: Bearer <key>`.");
  const principal = await authenticateAdmin(c.var, match[1]!, { onUse: (write) => c.executionCtx.waitUntil(write) });
  if (!principal) throw unauthorized("This admin key is unknown or revoked.");
  return principal;
}

/** Routes of a tenant's objects: a tenant key (`sk_…`); every query is scoped to its tenant. */
export const tenantGate = () =>
  createMiddleware<GateEnv<TenantVariables>>(async function tenantGate(c, next) {
    const principal = await principalOf(c);
    if (principal.kind !== "tenant") {
      throw new ApiError("forbidden", { message: "The platform key manages tenants and their keys; use a tenant key (sk_…) for this route." });
    }
    c.set("tenantId", principal.tenantId);
    c.set("adminKeyId", principal.keyId);
    await next();
  });

/** Routes that create tenants and their first keys: the platform key (`ADMIN_API_KEY`) only. */
export const platformGate = () =>
  createMiddleware<GateEnv>(async function platformGate(c, next) {
    const principal = await principalOf(c);
    if (principal.kind !== "platform") throw new ApiError("forbidden", { message: "This route takes the platform key (ADMIN_API_KEY)." });
    await next();
  });
