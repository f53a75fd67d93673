import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { createTenantWithKey, getTenant, insertAdminKey, listAdminKeys, revokeAdminKey } from "../../db/admin-queries";
import type { AdminKey } from "../../db/schema";
import type { GateEnv } from "../../env";
import { ApiError } from "../../errors";
import { platformGate, tenantGate, type TenantVariables } from "../auth";
import { decodeCursor, toPage } from "../cursor";
import { mintAdminKey, randomBase64Url, type MintedAdminKey } from "../keys";
import { adminRouter, errors, json, PLATFORM_SECURITY, TENANT_SECURITY } from "../route-kit";
import {
  adminKeyPageSchema,
  adminKeySchema,
  createdKeySchema,
  createdTenantSchema,
  createKeyBodySchema,
  createTenantBodySchema,
  idParamSchema,
  pageQuerySchema,
  tenantParamSchema,
} from "../schemas";
import { adminKeyView, tenantView } from "../views";

/** The one answer that carries a whole key. */
const createdKeyView = (row: AdminKey, minted: MintedAdminKey): z.infer<typeof createdKeySchema> => ({ ...adminKeyView(row), key: minted.key });

const CREATED_KEY_NOTE = "The `key` field is the whole key: store it now, it is never shown again.";

/** Platform routes: tenants and their first keys, with `ADMIN_API_KEY`. */
export const tenantRoutes = adminRouter<GateEnv>()
  .openapi(
    createRoute({
      method: "post",
      path: "/tenants",
      tags: ["Tenants"],
      summary: "Create a tenant and its first admin key",
      description: CREATED_KEY_NOTE,
      security: PLATFORM_SECURITY,
      middleware: [platformGate()],
      request: { body: { required: true, content: { "application/json": { schema: createTenantBodySchema } } } },
      responses: { 201: json(createdTenantSchema, "The tenant and its first key"), ...errors(400, 409, 413) },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const minted = await mintAdminKey(c.var.config.environment);
      const tenantId = body.id ?? `tn_${randomBase64Url(12)}`;
      const created = await createTenantWithKey(c.var.db, {
        tenant: { id: tenantId, name: body.name },
        key: { name: "first key", displayPrefix: minted.displayPrefix, keyHash: minted.keyHash },
      });
      if (!created) throw new ApiError("conflict", { message: `A tenant with id "${tenantId}" already exists.` });
      return c.json({ tenant: tenantView(created.tenant), key: createdKeyView(created.key, minted) }, 201);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/tenants/{tenantId}/keys",
      tags: ["Tenants"],
      summary: "Mint an admin key for a tenant",
      description: CREATED_KEY_NOTE,
      security: PLATFORM_SECURITY,
      middleware: [platformGate()],
      request: { params: tenantParamSchema, body: { required: false, content: { "application/json": { schema: createKeyBodySchema } } } },
      responses: { 201: json(createdKeySchema, "The new key"), ...errors(400, 404, 413) },
    }),
    async (c) => {
      const { tenantId } = c.req.valid("param");
      if (!(await getTenant(c.var.db, { tenantId }))) throw new ApiError("tenant_not_found");
      const minted = await mintAdminKey(c.var.config.environment);
      const row = await insertAdminKey(c.var.db, { tenantId, name: c.req.valid("json").name, displayPrefix: minted.displayPrefix, keyHash: minted.keyHash });
      return c.json(createdKeyView(row, minted), 201);
    },
  );

/** A tenant's own keys: list, mint another (rotation without downtime), revoke. */
export const keyRoutes = adminRouter<GateEnv<TenantVariables>>()
  .openapi(
    createRoute({
      method: "get",
      path: "/keys",
      tags: ["Keys"],
      summary: "List this tenant's admin keys (revoked ones included), newest first",
      security: TENANT_SECURITY,
      middleware: [tenantGate()],
      request: { query: pageQuerySchema },
      responses: { 200: json(adminKeyPageSchema, "A page of keys, without the keys themselves"), ...errors(400) },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const rows = await listAdminKeys(c.var.db, { tenantId: c.var.tenantId, limit, ...(cursor ? { cursor: decodeCursor(cursor) } : {}) });
      return c.json(toPage(rows, limit, (r) => ({ createdAt: r.cursorAt, id: r.row.id }), (r) => adminKeyView(r.row)), 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/keys",
      tags: ["Keys"],
      summary: "Mint another admin key for this tenant",
      description: `Several keys may be active at once: mint the new one, deploy it, then revoke the old one. ${CREATED_KEY_NOTE}`,
      security: TENANT_SECURITY,
      middleware: [tenantGate()],
      request: { body: { required: false, content: { "application/json": { schema: createKeyBodySchema } } } },
      responses: { 201: json(createdKeySchema, "The new key"), ...errors(400, 413) },
    }),
    async (c) => {
      const minted = await mintAdminKey(c.var.config.environment);
      const row = await insertAdminKey(c.var.db, {
        tenantId: c.var.tenantId,
        name: c.req.valid("json").name,
        displayPrefix: minted.displayPrefix,
        keyHash: minted.keyHash,
      });
      return c.json(createdKeyView(row, minted), 201);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/keys/{id}",
      tags: ["Keys"],
      summary: "Revoke an admin key",
      description: "Takes effect on the next request. The key stays listed, with `revokedAt`; revoking twice keeps the first time.",
      security: TENANT_SECURITY,
      middleware: [tenantGate()],
      request: { params: idParamSchema },
      responses: { 200: json(adminKeySchema, "The revoked key"), ...errors(400, 404) },
    }),
    async (c) => {
      const key = await revokeAdminKey(c.var.db, { tenantId: c.var.tenantId, keyId: c.req.valid("param").id });
      if (!key) throw new ApiError("key_not_found");
      return c.json(adminKeyView(key), 200);
    },
  );
