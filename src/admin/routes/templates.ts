import { createRoute } from "@hono/zod-openapi";
import { decodeCursor, toPage } from "../cursor";
import { deleteTemplateUnlessUsed, getTemplate, insertTemplate, listTemplates } from "../../db/admin-queries";
import { ApiError } from "../../errors";
import { templateConfigSchema } from "../../templates/config";
import type { GateEnv } from "../../env";
import { tenantGate, type TenantVariables } from "../auth";
import { etagOf, expectedVersion } from "../etag";
import { adminRouter, errors, json, TENANT_SECURITY } from "../route-kit";
import { idParamSchema, ifMatchHeaderSchema, pageQuerySchema, templatePageSchema, templatePatchSchema, templateSchema } from "../schemas";
import { patchTemplate } from "../templates";
import { templateView } from "../views";

const tags = ["Templates"];
const etagHeader = { ETag: { schema: { type: "string" as const }, description: "The version, for `If-Match`" } };

export const templateRoutes = adminRouter<GateEnv<TenantVariables>>()
  .openapi(
    createRoute({
      method: "post",
      path: "/templates",
      tags,
      summary: "Create a template (an agent)",
      security: TENANT_SECURITY,
      middleware: [tenantGate()],
      request: { body: { required: true, content: { "application/json": { schema: templateConfigSchema } } } },
      responses: { 201: { ...json(templateSchema, "The template (secret names only)"), headers: etagHeader }, ...errors(400, 413) },
    }),
    async (c) => {
      const template = await insertTemplate(c.var.db, { template: { ...c.req.valid("json"), tenantId: c.var.tenantId } });
      c.header("ETag", etagOf(template.version));
      return c.json(templateView(template), 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/templates",
      tags,
      summary: "List templates, newest first",
      security: TENANT_SECURITY,
      middleware: [tenantGate()],
      request: { query: pageQuerySchema },
      responses: { 200: json(templatePageSchema, "A page of templates"), ...errors(400) },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const rows = await listTemplates(c.var.db, { tenantId: c.var.tenantId, limit, ...(cursor ? { cursor: decodeCursor(cursor) } : {}) });
      return c.json(toPage(rows, limit, (r) => ({ createdAt: r.cursorAt, id: r.row.id }), (r) => templateView(r.row)), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/templates/{id}",
      tags,
      summary: "Get a template",
      security: TENANT_SECURITY,
      middleware: [tenantGate()],
      request: { params: idParamSchema },
      responses: { 200: { ...json(templateSchema, "The template"), headers: etagHeader }, ...errors(400, 404) },
    }),
    async (c) => {
      const template = await getTemplate(c.var.db, { tenantId: c.var.tenantId, templateId: c.req.valid("param").id });
      if (!template) throw new ApiError("template_not_found");
      c.header("ETag", etagOf(template.version));
      return c.json(templateView(template), 200);
    },
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/templates/{id}",
      tags,
      summary: "Update a template",
      description:
        "Fields given replace the stored ones; `secrets` merges. The merged template is checked as a whole. " +
        "Send `If-Match` with the ETag you read to refuse the write (412) if someone changed it since. " +
        "The change applies from the next turn of every session of this template.",
      security: TENANT_SECURITY,
      middleware: [tenantGate()],
      request: {
        params: idParamSchema,
        headers: ifMatchHeaderSchema,
        body: { required: true, content: { "application/json": { schema: templatePatchSchema } } },
      },
      responses: { 200: { ...json(templateSchema, "The updated template"), headers: etagHeader }, ...errors(400, 404, 412, 413) },
    }),
    async (c) => {
      const version = expectedVersion(c.req.valid("header")["if-match"]);
      const template = await patchTemplate(c.var.db, {
        tenantId: c.var.tenantId,
        templateId: c.req.valid("param").id,
        patch: c.req.valid("json"),
        ...(version === undefined ? {} : { expectedVersion: version }),
      });
      c.header("ETag", etagOf(template.version));
      return c.json(templateView(template), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/templates/{id}",
      tags,
      summary: "Delete a template no widget uses",
      description: "Refused with 409 `template_in_use` while widgets use it; `details.widgets` names them.",
      security: TENANT_SECURITY,
      middleware: [tenantGate()],
      request: { params: idParamSchema },
      responses: { 204: { description: "Deleted" }, ...errors(400, 404, 409) },
    }),
    async (c) => {
      const result = await deleteTemplateUnlessUsed(c.var.db, { tenantId: c.var.tenantId, templateId: c.req.valid("param").id });
      if (!result.found) throw new ApiError("template_not_found");
      if (!result.deleted) {
        const names = result.usedBy.map((widget) => `${widget.id} (${widget.publicKey})`).join(", ");
        throw new ApiError("template_in_use", {
          message: `Widgets still use this template: ${names}. Point them at another template or delete them first.`,
          details: { widgets: result.usedBy },
        });
      }
      return c.body(null, 204);
    },
  );
