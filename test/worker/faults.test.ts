import { eq } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { chatSessions } from "../../src/db/schema";
import type { ErrorBody } from "../../src/errors";
import { lockKey } from "../../src/lock";
import { call, stores } from "./support/app";
import { createSession, createWidget, storedMessages, storedSession, type TestSession } from "./support/fixtures";

/** Ways Postgres can be out of reach, each as the bindings that produce it. */
const DATABASE_FAULTS = {
  "the HTTP endpoint refuses connections": () => ({ NEON_LOCAL_ENDPOINT: "http://127.0.0.1:9/sql" }),
  "the endpoint answers 5xx (PostgreSQL behind it is down)": () => ({ DATABASE_URL: "postgres://postgres@127.0.0.1:1/parley" }),
  "the endpoint never answers": () => ({ NEON_LOCAL_ENDPOINT: `${inject("hangingUrl")}/sql` }),
  "the endpoint stalls mid-answer": () => ({ NEON_LOCAL_ENDPOINT: `${inject("hangingUrl")}/stall/sql` }),
} satisfies Record<string, () => Partial<Env>>;

type Route = "create" | "get" | "initial-turn" | "message" | "cancel" | "end";
const ROUTES: Route[] = ["create", "get", "initial-turn", "message", "cancel", "end"];

function request(route: Route, session: TestSession, publicKey: string, env: Partial<Env>) {
  const base = `/v1/widget/session/${session.sessionId}`;
  switch (route) {
    case "create":
      return call("/v1/widget/session", { method: "POST", json: { publicKey }, env });
    case "get":
      return call(base, { token: session.token, env });
    case "message":
      return call(`${base}/message`, { method: "POST", token: session.token, json: { id: "m1", text: "hello" }, env });
    default:
      return call(`${base}/${route}`, { method: "POST", token: session.token, env });
  }
}

async function sessionsOf(widgetId: string) {
  return stores().db.select().from(chatSessions).where(eq(chatSessions.widgetId, widgetId));
}

describe("Postgres unavailable", () => {
  for (const [fault, bindings] of Object.entries(DATABASE_FAULTS)) {
    it.each(ROUTES)(`${fault}: %s answers 503 unavailable naming postgres, and changes nothing`, async (route) => {
      const fixture = await createWidget();
      const session = await createSession(fixture);
      const before = await storedSession(session.sessionId);

      const { res, settled } = await request(route, session, fixture.publicKey, bindings());
      expect(res.status).toBe(503);
      const body = (await res.json()) as ErrorBody;
      expect(body.error.code).toBe("unavailable");
      expect(body.error.details).toEqual({ store: "postgres" });
      await settled();

      expect(await sessionsOf(fixture.widgetId)).toHaveLength(1);
      expect(await storedSession(session.sessionId)).toEqual(before);
      expect(await storedMessages(session.sessionId)).toEqual([]);
      expect(await stores().redis.get(lockKey(session.sessionId))).toBeNull();
    });
  }
});
