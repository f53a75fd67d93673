/** A widget client for the benchmark: opens sessions and runs turns over the real HTTP API. */
import { sseData } from "./sse";

export interface Session {
  id: string;
  token: string;
}

export interface TurnPace {
  /** The fake model's time to first token, in ms. */
  ttftMs: number;
  /** The fake model's pause between tokens, in ms. */
  gapMs: number;
  tokens: number;
}

/** One turn as the client saw it; times in epoch ms. */
export interface TurnResult {
  /** The user text, which the fake model's timings name too. */
  marker: string;
  sentAt: number;
  firstDeltaAt: number | null;
  lastDeltaAt: number | null;
  endedAt: number;
  /** Why the turn counts as an error: an HTTP status, an `error` part, a wrong or cut-off text. */
  error?: string;
}

export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export async function openSession(workerUrl: string, publicKey: string, origin: string): Promise<Session> {
  const res = await fetch(`${workerUrl}/v1/widget/session`, {
    method: "POST",
    headers: { "content-type": "application/json", origin },
    body: JSON.stringify({ publicKey }),
  });
  if (res.status !== 201) throw new Error(`session create answered ${res.status}: ${await res.text()}`);
  const { sessionId, token } = (await res.json()) as { sessionId: string; token: string };
  return { id: sessionId, token };
}

/**
 * Sends one message whose text tells the fake model its pace, reads the whole SSE stream, and
 * checks that the text assembled from the deltas is exactly the model's `tok1 … tokN`.
 */
export async function runTurn(workerUrl: string, origin: string, session: Session, turn: number, pace: TurnPace): Promise<TurnResult> {
  const marker = `/fake ttft=${pace.ttftMs} gap=${pace.gapMs} tokens=${pace.tokens} #${session.id}:${turn}`;
  const sentAt = nowMs();
  const result: TurnResult = { marker, sentAt, firstDeltaAt: null, lastDeltaAt: null, endedAt: sentAt };
  try {
    const res = await fetch(`${workerUrl}/v1/widget/session/${session.id}/message`, {
      method: "POST",
      headers: { "content-type": "application/json", origin, authorization: `Bearer ${session.token}` },
      body: JSON.stringify({ id: `m${turn}`, text: marker }),
    });
    if (res.status !== 200 || !res.body) {
      result.error = `HTTP ${res.status} ${await errorText(res)}`;
      return result;
    }
    let text = "";
    let finished = false;
    let turnEnd: string | undefined;
    for await (const chunk of sseData(res.body)) {
      const part = JSON.parse(chunk) as { type: string; delta?: string; errorText?: string; data?: { status?: string } };
      if (part.type === "text-delta") {
        result.lastDeltaAt = nowMs();
        result.firstDeltaAt ??= result.lastDeltaAt;
        text += part.delta ?? "";
      } else if (part.type === "error") {
        result.error ??= `error part: ${part.errorText}`;
      } else if (part.type === "data-turn-end") {
        turnEnd = part.data?.status;
      } else if (part.type === "finish") {
        finished = true;
      }
    }
    result.endedAt = nowMs();
    if (!finished) result.error ??= "stream ended without finish";
    else if (turnEnd !== "completed") result.error ??= `turn ended ${turnEnd}`;
    else if (text !== expectedText(pace.tokens)) result.error ??= `wrong text (${text.length} characters)`;
  } catch (error) {
    result.endedAt = nowMs();
    result.error ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
  return result;
}

/** The `error.message` of a JSON error body (it names the store that failed), else its first characters. */
async function errorText(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  try {
    const { error } = JSON.parse(text) as { error?: { code?: string; message?: string } };
    return `${error?.code ?? ""}: ${error?.message ?? ""}`;
  } catch {
    return text.slice(0, 80);
  }
}

/** What the fake model streams for `tokens` deltas. */
function expectedText(tokens: number): string {
  return Array.from({ length: tokens }, (_, i) => `tok${i + 1}`).join(" ");
}
