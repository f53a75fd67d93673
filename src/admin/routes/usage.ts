import { createRoute } from "@hono/zod-openapi";
import { getUsage } from "../../db/admin-queries";
import type { GateEnv } from "../../env";
import { ApiError } from "../../errors";
import { tenantGate, type TenantVariables } from "../auth";
import { decodeCursor, encodeCursor } from "../cursor";
import { adminRouter, errors, json, TENANT_SECURITY } from "../route-kit";
import { usageQuerySchema, usageSchema } from "../schemas";

/** Longest range one usage request may cover, in days. */
export const MAX_USAGE_RANGE_DAYS = 366;
const DAY_MS = 86_400_000;

const nextDay = (day: string) => new Date(Date.parse(`${day}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);

export const usageRoutes = adminRouter<GateEnv<TenantVariables>>().openapi(
  createRoute({
    method: "get",
    path: "/usage",
    tags: ["Usage"],
    summary: "Tokens, turns and sessions per widget and per UTC day",
    description:
      "From the append-only per-turn usage record, written at the end of every turn (canceled and interrupted ones included, " +
      "with what the provider reported). Items are ordered by day, then widget; `totals` covers the whole range.",
    security: TENANT_SECURITY,
    middleware: [tenantGate()],
    request: { query: usageQuerySchema },
    responses: { 200: json(usageSchema, "Usage over the range"), ...errors(400) },
  }),
  async (c) => {
    const { from, to, widgetId, limit, cursor } = c.req.valid("query");
    const days = (Date.parse(to) - Date.parse(from)) / DAY_MS + 1;
    if (days < 1 || days > MAX_USAGE_RANGE_DAYS) {
      throw new ApiError("invalid_request", {
        message: `The range must run forward and cover at most ${MAX_USAGE_RANGE_DAYS} days.`,
        details: [{ path: ["to"], message: `from ≤ to, at most ${MAX_USAGE_RANGE_DAYS} days` }],
      });
    }
    const after = cursor ? decodeCursor(cursor) : undefined;
    const { rows, totals } = await getUsage(c.var.db, {
      tenantId: c.var.tenantId,
      from,
      to: nextDay(to),
      limit,
      ...(widgetId ? { widgetId } : {}),
      ...(after ? { after: { date: after.createdAt, widgetId: after.id } } : {}),
    });
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    const nextCursor = rows.length > limit && last ? encodeCursor({ createdAt: last.date, id: last.widgetId }) : null;
    return c.json({ from, to, totals, items, nextCursor }, 200);
  },
);
