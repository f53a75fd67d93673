import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { post, stores } from "./support/app";
import { refuseMessagesWithText } from "./support/faults";
import { createSession, createWidget } from "./support/fixtures";
import { readChunks } from "./support/sse";

const SECRET = "sk_live_log_test_secret_41b7";
/** Visitor text that must never reach a log line, in any form. */
const MARKER = "my card number is 4111-LOGMARKER";
/** User text a trigger of this file refuses to store: the turn's opening write then fails. */
const UNSTORABLE_MARKER = "LOGMARKER refuses to be stored";

type Line = Record<string, unknown> & { level: string; msg: string };

/** Everything the Worker wrote to the console during `run`, as raw strings. */
async function captureConsole(run: () => Promise<void>): Promise<string[]> {
  const written: string[] = [];
  const capture = (...args: unknown[]) => void written.push(args.map((arg) => (typeof arg === "string" ? arg : JSON.stringify(arg))).join(" "));
  for (const method of ["log", "info", "warn", "error"] as const) vi.spyOn(console, method).mockImplementation(capture);
  await run();
  return written;
}

const parsed = (lines: string[]): Line[] =>
  lines.flatMap((line) => {
    try {
      const value = JSON.parse(line) as Line;
      return typeof value === "object" && value && "msg" in value ? [value] : [];
    } catch {
      return [];
    }
  });

beforeAll(() => refuseMessagesWithText("parley_test_refuse_log_marker", UNSTORABLE_MARKER));

afterEach(() => vi.restoreAllMocks());

describe("logs an operator can use", () => {
  it("one JSON line per request and per turn, with the request id the response echoes", async () => {
    const fixture = await createWidget({ template: { secrets: { API: SECRET }, instructions: "Key {secret.API}." } });
    const session = await createSession(fixture);
    let requestIdHeader: string | null = null;
    const lines = await captureConsole(async () => {
      const turn = await post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id: "m1", text: MARKER } });
      requestIdHeader = turn.res.headers.get("x-request-id");
      await readChunks(turn.res);
      await turn.settled();
    });
    const logged = parsed(lines);

    expect(requestIdHeader).toMatch(/^[\w-]{8,}$/);
    expect(logged.find((line) => line.msg === "request")).toMatchObject({
      level: "info",
      requestId: requestIdHeader,
      method: "POST",
      route: "/v1/widget/session/:id/message",
      status: 200,
      sessionId: session.sessionId,
    });
    const turnLine = logged.find((line) => line.msg === "turn");
    expect(turnLine).toMatchObject({ level: "info", requestId: requestIdHeader, sessionId: session.sessionId, widgetId: fixture.widgetId, kind: "message", status: "completed", assistantIdx: 1 });
    expect(turnLine?.ttftMs).toEqual(expect.any(Number));
    expect(turnLine?.durationMs).toEqual(expect.any(Number));
    // The wave, the opening write and the final write.
    expect(turnLine?.storeRoundTrips).toBe(3);
  });

  it("keeps a caller's request id when it is plain, and echoes it", async () => {
    const { res } = await post("/v1/widget/session", { json: { publicKey: "pk_none" }, headers: { "x-request-id": "trace-abc-123" } });
    expect(res.status).toBe(404);
    expect(res.headers.get("x-request-id")).toBe("trace-abc-123");
  });

  it("no secret and no visitor text in any line, on success and on failure paths", async () => {
    const fixture = await createWidget({ template: { secrets: { API: SECRET }, instructions: "Key {secret.API}." } });
    const session = await createSession(fixture);
    const lines = await captureConsole(async () => {
      for (const [id, text] of [
        ["ok", MARKER],
        ["fails-mid", `/fail-mid ${MARKER}`],
        ["fails-before", `/fail-before ${MARKER}`],
        ["unstorable", UNSTORABLE_MARKER],
      ]) {
        const turn = await post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id, text } });
        await readChunks(turn.res);
        await turn.settled();
      }
    });
    const logged = parsed(lines);

    // The failures were really logged…
    expect(logged.some((line) => line.msg === "storing the user message failed")).toBe(true);
    expect(logged.filter((line) => line.msg === "turn").map((line) => line.status)).toEqual(["completed", "failed", "failed", "failed"]);
    // …and nothing carries what the visitor wrote or the template's secret.
    for (const line of lines) {
      expect(line).not.toContain("LOGMARKER");
      expect(line).not.toContain(SECRET);
    }
  });
});
