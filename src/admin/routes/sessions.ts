import { createRoute } from "@hono/zod-openapi";
import type { Redis } from "@upstash/redis/cloudflare";
import { deleteTenantSession, endTenantSession, getTranscript, listSessions } from "../../db/admin-queries";
import type { GateEnv } from "../../env";
import { ApiError } from "../../errors";
import { requestCancel } from "../../lock";
import { tenantGate, type TenantVariables } from "../auth";
import { decodeCursor, toPage } from "../cursor";
import { adminRouter, errors, json, TENANT_SECURITY } from "../route-kit";
import { idParamSchema, sessionListQuerySchema, sessionPageSchema, sessionSchema, transcriptSchema } from "../schemas";
import { sessionView, transcriptView } from "../views";

const tags = ["Sessions"];

/** Stops a reply still streaming for the session, if any; logged, never failing the request. */
function cancelTurn(redis: Redis, keyPrefix: string, sessionId: string): Promise<void> {
  return requestCancel(redis, sessionId, keyPrefix).then(
    () => undefined,
    (error: unknown) => console.error("cancel from the admin API failed", { sessionId, error: String(error) }),
  );
}

const date = (value: string | undefined) => (value === undefined ? undefined : new Date(value));

export const sessionRoutes = adminRouter<GateEnv<TenantVariables>>()
  .openapi(
    createRoute({
      method: "get",
      path: "/sessions",
      tags,
      summary: "List sessions, newest first",
      description: "Filters combine; ranges are `[from, to)`. Pages are stable under new sessions (keyset on creation time and id).",
      security: TENANT_SECURITY,
      middleware: [tenantGate()],
      request: { query: sessionListQuerySchema },
      responses: { 200: json(sessionPageSchema, "A page of sessions"), ...errors(400) },
    }),
    async (c) => {
      const { limit, cursor, widgetId, visitorId, status, createdFrom, createdTo, lastActivityFrom, lastActivityTo } = c.req.valid("query");
      const filter = Object.fromEntries(
        Object.entries({
          widgetId,
          visitorId,
          status,
          createdFrom: date(createdFrom),
          createdTo: date(createdTo),
          lastActivityFrom: date(lastActivityFrom),
          lastActivityTo: date(lastActivityTo),
        }).filter(([, value]) => value !== undefined),
      );
      const rows = await listSessions(c.var.db, { tenantId: c.var.tenantId, filter, limit, ...(cursor ? { cursor: decodeCursor(cursor) } : {}) });
      return c.json(toPage(rows, limit, (r) => ({ createdAt: r.cursorAt, id: r.row.id }), (r) => sessionView(r.row)), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/sessions/{id}",
      tags,
      summary: "Get a session with its full transcript and per-turn metrics",
      security: TENANT_SECURITY,
      middleware: [tenantGate()],
      request: { params: idParamSchema },
      responses: { 200: json(transcriptSchema, "The session, every message with its parts, and every turn's metrics"), ...errors(400, 404) },
    }),
    async (c) => {
      const transcript = await getTranscript(c.var.db, { tenantId: c.var.tenantId, sessionId: c.req.valid("param").id });
      if (!transcript) throw new ApiError("session_not_found");
      return c.json(transcriptView(transcript), 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/sessions/{id}/end",
      tags,
      summary: "End a session (reason `admin_ended`)",
      description: "Idempotent: the first end wins. A reply still streaming is canceled; the widget's turn routes then answer 410.",
      security: TENANT_SECURITY,
      middleware: [tenantGate()],
      request: { params: idParamSchema },
      responses: { 200: json(sessionSchema, "The session as it now stands"), ...errors(400, 404) },
    }),
    async (c) => {
      const sessionId = c.req.valid("param").id;
      const session = await endTenantSession(c.var.db, { tenantId: c.var.tenantId, sessionId, reason: "admin_ended" });
      if (!session) throw new ApiError("session_not_found");
      c.executionCtx.waitUntil(cancelTurn(c.var.redis, c.var.config.redisKeyPrefix, sessionId));
      return c.json(sessionView(session), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/sessions/{id}",
      tags,
      summary: "Delete a session and erase its messages",
      description: "For a visitor's erasure request. The usage record keeps the session's token counts, which hold no content.",
      security: TENANT_SECURITY,
      middleware: [tenantGate()],
      request: { params: idParamSchema },
      responses: { 204: { description: "Deleted" }, ...errors(400, 404) },
    }),
    async (c) => {
      const sessionId = c.req.valid("param").id;
      if (!(await deleteTenantSession(c.var.db, { tenantId: c.var.tenantId, sessionId }))) throw new ApiError("session_not_found");
      c.executionCtx.waitUntil(cancelTurn(c.var.redis, c.var.config.redisKeyPrefix, sessionId));
      return c.body(null, 204);
    },
  );
