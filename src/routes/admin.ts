import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { identityRoutes } from "../admin/routes/identity";
import { keyRoutes, tenantRoutes } from "../admin/routes/keys";
import { sessionRoutes } from "../admin/routes/sessions";
import { templateRoutes } from "../admin/routes/templates";
import { usageRoutes } from "../admin/routes/usage";
import { widgetRoutes } from "../admin/routes/widgets";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { clients } from "../middleware/clients";

/** Largest admin request body, in bytes: a template with many tools and a long prompt fits. */
export const MAX_ADMIN_BODY_BYTES = 262_144;

/**
 * The merchant's admin API, mounted at `/v1/admin`: tenants and keys (platform key), templates,
 * widgets, sessions and usage (tenant keys). Each route names its auth gate; every query is
 * scoped to the key's tenant, so another tenant's id answers 404 like a missing one.
 */
export function adminApi() {
  const admin = new OpenAPIHono<AppEnv>();
  admin.use(
    "*",
    bodyLimit({
      maxSize: MAX_ADMIN_BODY_BYTES,
      onError: () => new ApiError("payload_too_large", { message: `The request body is too large (at most ${MAX_ADMIN_BODY_BYTES / 1024} KB).` }).toResponse(),
    }),
  );
  admin.use("*", clients());
  admin.route("/", tenantRoutes);
  admin.route("/", keyRoutes);
  admin.route("/", templateRoutes);
  admin.route("/", widgetRoutes);
  admin.route("/", identityRoutes);
  admin.route("/", sessionRoutes);
  admin.route("/", usageRoutes);
  return admin;
}
