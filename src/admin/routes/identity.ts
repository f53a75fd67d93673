import { createRoute } from "@hono/zod-openapi";
import { updateWidget, type UpdateResult } from "../../db/admin-queries";
import type { Widget } from "../../db/schema";
import type { GateEnv } from "../../env";
import { ApiError } from "../../errors";
import { generateIdentitySecret, sealIdentitySecret } from "../../identity/secret-box";
import { identityKey } from "../../identity/visitor";
import { tenantGate, type TenantVariables } from "../auth";
import { etagOf, expectedVersion } from "../etag";
import { adminRouter, errors, json, TENANT_SECURITY } from "../route-kit";
import { idParamSchema, identitySecretSchema, ifMatchHeaderSchema, widgetSchema } from "../schemas";
import { widgetView } from "../views";

const tags = ["Widgets"];
const etagHeader = { ETag: { schema: { type: "string" as const }, description: "The version, for `If-Match`" } };

function updated(result: UpdateResult<Widget>): Widget {
  if (result.ok) return result.row;
  throw result.reason === "stale" ? new ApiError("precondition_failed") : new ApiError("widget_not_found", { message: "No such widget." });
}

/** A widget's identity secret: made (or replaced) and shown once, or removed. */
export const identityRoutes = adminRouter<GateEnv<TenantVariables>>()
  .openapi(
    createRoute({
      method: "post",
      path: "/widgets/{id}/identity-secret",
      tags,
      summary: "Create or rotate the widget's identity secret",
      description:
        "Answers the new secret once; only its encrypted form is stored and it is never returned again. Identity tokens signed with a previous secret fail from the next request (401 `invalid_identity`): deploy the new one to the server that signs them right away.",
      security: TENANT_SECURITY,
      middleware: [tenantGate()],
      request: { params: idParamSchema, headers: ifMatchHeaderSchema },
      responses: { 200: { ...json(identitySecretSchema, "The new secret, shown once, and the widget"), headers: etagHeader }, ...errors(400, 404, 412) },
    }),
    async (c) => {
      const widgetId = c.req.valid("param").id;
      const version = expectedVersion(c.req.valid("header")["if-match"]);
      const secret = generateIdentitySecret();
      const sealed = await sealIdentitySecret(secret, { key: await identityKey(c.var.config.identityKeyMaterial), widgetId });
      const widget = updated(
        await updateWidget(c.var.db, {
          tenantId: c.var.tenantId,
          widgetId,
          set: { identitySecret: sealed, identitySecretCreatedAt: new Date() },
          ...(version === undefined ? {} : { version }),
        }),
      );
      c.header("ETag", etagOf(widget.version));
      c.header("Cache-Control", "no-store");
      return c.json({ identitySecret: secret, widget: widgetView(widget) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/widgets/{id}/identity-secret",
      tags,
      summary: "Remove the widget's identity secret",
      description: "No identity token verifies afterwards (401 `invalid_identity`); sessions already open keep working.",
      security: TENANT_SECURITY,
      middleware: [tenantGate()],
      request: { params: idParamSchema, headers: ifMatchHeaderSchema },
      responses: { 200: { ...json(widgetSchema, "The widget without an identity secret"), headers: etagHeader }, ...errors(400, 404, 412) },
    }),
    async (c) => {
      const version = expectedVersion(c.req.valid("header")["if-match"]);
      const widget = updated(
        await updateWidget(c.var.db, {
          tenantId: c.var.tenantId,
          widgetId: c.req.valid("param").id,
          set: { identitySecret: null, identitySecretCreatedAt: null },
          ...(version === undefined ? {} : { version }),
        }),
      );
      c.header("ETag", etagOf(widget.version));
      return c.json(widgetView(widget), 200);
    },
  );
