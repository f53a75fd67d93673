import { createRoute } from "@hono/zod-openapi";
import type { Config } from "../../config";
import type { Database } from "../../db/client";
import { deleteWidget, getTemplate, getWidget, insertWidget, listWidgets, updateWidget, type UpdateResult } from "../../db/admin-queries";
import type { Widget } from "../../db/schema";
import { getWidgetTokensToday } from "../../db/usage-queries";
import type { GateEnv } from "../../env";
import { ApiError } from "../../errors";
import { tenantGate, type TenantVariables } from "../auth";
import { decodeCursor, toPage } from "../cursor";
import { etagOf, expectedVersion } from "../etag";
import { generatePublicKey } from "../keys";
import { checkAllowedOrigins } from "../origins";
import { adminRouter, errors, json, TENANT_SECURITY } from "../route-kit";
import { createWidgetBodySchema, idParamSchema, widgetBudgetSchema, ifMatchHeaderSchema, widgetListQuerySchema, widgetPageSchema, widgetPatchSchema, widgetSchema } from "../schemas";
import { widgetView } from "../views";

const tags = ["Widgets"];
const etagHeader = { ETag: { schema: { type: "string" as const }, description: "The version, for `If-Match`" } };
const widgetNotFound = () => new ApiError("widget_not_found", { message: "No such widget." });

/** 400 for origins a browser would never send as written, or plain-HTTP ones outside development. */
function assertOrigins(origins: string[] | undefined, environment: Config["environment"]): void {
  if (origins === undefined) return;
  const issues = checkAllowedOrigins(origins, environment);
  if (issues.length) {
    throw new ApiError("invalid_request", { message: `Invalid allowed origins: ${issues.map((i) => i.message).join("; ")}.`, details: issues });
  }
}

/** A widget may only use a template of its own tenant; another tenant's answers as a missing one. */
async function assertTemplateOfTenant(db: Database, tenantId: string, templateId: string | undefined): Promise<void> {
  if (templateId === undefined) return;
  if (!(await getTemplate(db, { tenantId, templateId }))) {
    throw new ApiError("template_not_found", { message: `No template ${templateId}.`, details: [{ path: ["templateId"], message: "no such template" }] });
  }
}

/** The widget columns of a Turnstile setting (null turns the challenge off). */
function turnstileColumns(turnstile: { siteKey: string; secret: string } | null): Pick<Widget, "turnstileSiteKey" | "turnstileSecret"> {
  return { turnstileSiteKey: turnstile?.siteKey ?? null, turnstileSecret: turnstile?.secret ?? null };
}

function updated(result: UpdateResult<Widget>): Widget {
  if (result.ok) return result.row;
  throw result.reason === "stale" ? new ApiError("precondition_failed") : widgetNotFound();
}

export const widgetRoutes = adminRouter<GateEnv<TenantVariables>>()
  .openapi(
    createRoute({
      method: "post",
      path: "/widgets",
      tags,
      summary: "Create a widget",
      description: "The server generates the public key (`pk_` + 32 random bytes, base64url).",
      security: TENANT_SECURITY,
      middleware: [tenantGate()],
      request: { body: { required: true, content: { "application/json": { schema: createWidgetBodySchema } } } },
      responses: { 201: { ...json(widgetSchema, "The widget"), headers: etagHeader }, ...errors(400, 404, 413) },
    }),
    async (c) => {
      const body = c.req.valid("json");
      assertOrigins(body.allowedOrigins, c.var.config.environment);
      await assertTemplateOfTenant(c.var.db, c.var.tenantId, body.templateId);
      const { turnstile, ...fields } = body;
      const widget = await insertWidget(c.var.db, {
        widget: { ...fields, ...turnstileColumns(turnstile), tenantId: c.var.tenantId, publicKey: generatePublicKey() },
      });
      c.header("ETag", etagOf(widget.version));
      return c.json(widgetView(widget), 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/widgets",
      tags,
      summary: "List widgets, newest first",
      security: TENANT_SECURITY,
      middleware: [tenantGate()],
      request: { query: widgetListQuerySchema },
      responses: { 200: json(widgetPageSchema, "A page of widgets"), ...errors(400) },
    }),
    async (c) => {
      const { limit, cursor, templateId } = c.req.valid("query");
      const rows = await listWidgets(c.var.db, {
        tenantId: c.var.tenantId,
        limit,
        ...(templateId ? { templateId } : {}),
        ...(cursor ? { cursor: decodeCursor(cursor) } : {}),
      });
      return c.json(toPage(rows, limit, (r) => ({ createdAt: r.cursorAt, id: r.row.id }), (r) => widgetView(r.row)), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/widgets/{id}",
      tags,
      summary: "Get a widget",
      security: TENANT_SECURITY,
      middleware: [tenantGate()],
      request: { params: idParamSchema },
      responses: { 200: { ...json(widgetSchema, "The widget"), headers: etagHeader }, ...errors(400, 404) },
    }),
    async (c) => {
      const widget = await getWidget(c.var.db, { tenantId: c.var.tenantId, widgetId: c.req.valid("param").id });
      if (!widget) throw widgetNotFound();
      c.header("ETag", etagOf(widget.version));
      return c.json(widgetView(widget), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/widgets/{id}/budget",
      tags,
      summary: "Today's use of the widget's daily token budget",
      description: "Tokens (in + out) of the widget's turns since midnight UTC, against `dailyTokenBudget`; once it is spent, turns answer 429 `budget_exhausted` until the next UTC day.",
      security: TENANT_SECURITY,
      middleware: [tenantGate()],
      request: { params: idParamSchema },
      responses: { 200: json(widgetBudgetSchema, "The budget and today's use"), ...errors(400, 404) },
    }),
    async (c) => {
      const widget = await getWidget(c.var.db, { tenantId: c.var.tenantId, widgetId: c.req.valid("param").id });
      if (!widget) throw widgetNotFound();
      const usedToday = await getWidgetTokensToday(c.var.db, { widgetId: widget.id });
      const resetsAt = new Date();
      resetsAt.setUTCHours(24, 0, 0, 0);
      return c.json(
        {
          dailyTokenBudget: widget.dailyTokenBudget,
          usedToday,
          exhausted: widget.dailyTokenBudget !== null && usedToday >= widget.dailyTokenBudget,
          resetsAt: resetsAt.toISOString(),
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/widgets/{id}",
      tags,
      summary: "Update a widget's template, allowed origins, rate limits or active flag",
      security: TENANT_SECURITY,
      middleware: [tenantGate()],
      request: {
        params: idParamSchema,
        headers: ifMatchHeaderSchema,
        body: { required: true, content: { "application/json": { schema: widgetPatchSchema } } },
      },
      responses: { 200: { ...json(widgetSchema, "The updated widget"), headers: etagHeader }, ...errors(400, 404, 412, 413) },
    }),
    async (c) => {
      const { turnstile, ...patch } = c.req.valid("json");
      const version = expectedVersion(c.req.valid("header")["if-match"]);
      assertOrigins(patch.allowedOrigins, c.var.config.environment);
      await assertTemplateOfTenant(c.var.db, c.var.tenantId, patch.templateId);
      const widget = updated(
        await updateWidget(c.var.db, { tenantId: c.var.tenantId, widgetId: c.req.valid("param").id, set: { ...patch, ...(turnstile === undefined ? {} : turnstileColumns(turnstile)) }, ...(version === undefined ? {} : { version }) }),
      );
      c.header("ETag", etagOf(widget.version));
      return c.json(widgetView(widget), 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/widgets/{id}/rotate-key",
      tags,
      summary: "Replace the widget's public key",
      description: "The old key stops opening sessions at once; sessions opened with it keep working until they end.",
      security: TENANT_SECURITY,
      middleware: [tenantGate()],
      request: { params: idParamSchema, headers: ifMatchHeaderSchema },
      responses: { 200: { ...json(widgetSchema, "The widget with its new public key"), headers: etagHeader }, ...errors(400, 404, 412) },
    }),
    async (c) => {
      const version = expectedVersion(c.req.valid("header")["if-match"]);
      const widget = updated(
        await updateWidget(c.var.db, {
          tenantId: c.var.tenantId,
          widgetId: c.req.valid("param").id,
          set: { publicKey: generatePublicKey() },
          ...(version === undefined ? {} : { version }),
        }),
      );
      c.header("ETag", etagOf(widget.version));
      return c.json(widgetView(widget), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/widgets/{id}",
      tags,
      summary: "Delete a widget with its sessions and their messages",
      security: TENANT_SECURITY,
      middleware: [tenantGate()],
      request: { params: idParamSchema },
      responses: { 204: { description: "Deleted" }, ...errors(400, 404) },
    }),
    async (c) => {
      if (!(await deleteWidget(c.var.db, { tenantId: c.var.tenantId, widgetId: c.req.valid("param").id }))) throw widgetNotFound();
      return c.body(null, 204);
    },
  );
