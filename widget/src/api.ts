/** parley's widget API (`/v1/widget`), as the browser calls it. Failures are values. */

/** Why a call did not succeed: an HTTP error with parley's error body, or no answer at all. */
export type ApiFailure =
  | {
      kind: "http";
      status: number;
      code: string;
      message: string;
      retryAfterSeconds?: number;
      /** The Turnstile site key of a `challenge_required` or `challenge_failed` answer. */
      siteKey?: string;
    }
  | { kind: "network" };

export type ApiResult<T> = { ok: true; value: T } | { ok: false; failure: ApiFailure };

/** The answer of `POST /session`. */
export interface CreatedSession {
  sessionId: string;
  token: string;
  /** ISO time the token expires. */
  expiresAt: string;
  greeting: string | null;
  initialTurn: "llm" | null;
  quickReplies: string[];
  textInput: boolean;
  /** A verified visitor's latest active session, resumed: its transcript is read with `GET /session/:id`. */
  resumed?: boolean;
  /** The verified visitor (the identity token's `sub`); null when anonymous. */
  visitorId?: string | null;
  /** Push-to-talk: show the microphone button. */
  voiceInput?: boolean;
}

/** A message of `GET /session/:id`. */
export interface StoredMessage {
  id: string;
  idx: number;
  role: "user" | "assistant" | "system";
  text: string;
  parts: Array<Record<string, unknown>>;
  status: string;
  /** While the reply waits for the visitor: the client tool calls this page must answer. */
  awaiting?: { clientCalls: string[] };
}

/** The answer of `GET /session/:id`. */
export interface SessionState {
  sessionId: string;
  status: "active" | "ended";
  /** "voice" while a call is attached: chat is paused. */
  channel: "chat" | "voice";
  quickReplies: string[];
  textInput: boolean;
  voiceInput?: boolean;
  messages: StoredMessage[];
}

/** The answer of `GET /config`: this page may show the widget. */
export interface WidgetConfig {
  /** Set when sessions open only after a Turnstile challenge. */
  turnstileSiteKey: string | null;
}

/** The answer of `POST /session/:id/context`. */
export interface ContextPushed {
  applied: boolean;
  revision: number;
  accepted: string[];
  dropped: string[];
}
/** What a turn route is asked: the route is `kind`, the body the other fields. */
export type TurnRequest =
  | { kind: "initial" }
  | { kind: "message"; id: string; text: string }
  | { kind: "approval"; approvalId: string; approved: boolean }
  | { kind: "tool-result"; toolCallId: string; output: unknown };

export interface SessionCredentials {
  sessionId: string;
  token: string;
}

/** A client of one parley deployment's widget API. */
export class WidgetApi {
  readonly #base: string;

  /** @param base the API root, e.g. `https://parley.example/v1/widget` */
  constructor(base: string) {
    this.#base = base.replace(/\/$/, "");
  }

  /**
   * Whether this page may show the widget (its origin on the allow-list, the key active), before
   * any session. The answer may come from the HTTP cache: the server lets it be kept 60 s per origin.
   */
  config(publicKey: string): Promise<ApiResult<WidgetConfig>> {
    return this.#json<WidgetConfig>(`/config?publicKey=${encodeURIComponent(publicKey)}`, { cache: "default" });
  }

  /** `turnstileToken`: a passed Turnstile challenge, for a widget that asks for one. */
  createSession(body: {
    publicKey: string;
    templateVars: Record<string, string>;
    metadata: Record<string, unknown>;
    turnstileToken?: string;
    identityToken?: string;
  }): Promise<ApiResult<CreatedSession>> {
    return this.#json<CreatedSession>("/session", { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
  }

  getSession({ sessionId, token }: SessionCredentials): Promise<ApiResult<SessionState>> {
    return this.#json<SessionState>(`/session/${encodeURIComponent(sessionId)}`, { headers: bearer(token) });
  }

  /**
   * Starts a turn and answers its SSE response once the headers are in; the body is the
   * stream. `signal` aborts the request (and the stream). An approval or a tool result
   * continues the reply that waits for it.
   */
  startTurn({ sessionId, token }: SessionCredentials, turn: TurnRequest, signal?: AbortSignal): Promise<ApiResult<ReadableStream<Uint8Array>>> {
    const { kind, ...body } = turn;
    const path = `/session/${encodeURIComponent(sessionId)}/${kind === "initial" ? "initial-turn" : kind}`;
    const init: RequestInit =
      kind === "initial"
        ? { method: "POST", headers: bearer(token), signal }
        : { method: "POST", headers: { ...bearer(token), "content-type": "application/json" }, body: JSON.stringify(body), signal };
    return this.#call(path, init, async (res) => {
      if (!res.body) throw new TypeError("the turn answered without a body");
      return res.body;
    });
  }

  setContext({ sessionId, token }: SessionCredentials, body: { context: Record<string, unknown>; revision: number }): Promise<ApiResult<ContextPushed>> {
    return this.#json<ContextPushed>(`/session/${encodeURIComponent(sessionId)}/context`, {
      method: "POST",
      headers: { ...bearer(token), "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  /**
   * The reply in flight, replayed from its start (`GET /session/:id/stream`); null when none
   * is (204).
   */
  resume({ sessionId, token }: SessionCredentials, signal?: AbortSignal): Promise<ApiResult<ReadableStream<Uint8Array> | null>> {
    return this.#call(`/session/${encodeURIComponent(sessionId)}/stream`, { headers: bearer(token), signal }, async (res) => (res.status === 204 ? null : res.body));
  }

  cancel({ sessionId, token }: SessionCredentials): Promise<ApiResult<unknown>> {
    return this.#json(`/session/${encodeURIComponent(sessionId)}/cancel`, { method: "POST", headers: bearer(token) });
  }

  end({ sessionId, token }: SessionCredentials): Promise<ApiResult<unknown>> {
    return this.#json(`/session/${encodeURIComponent(sessionId)}/end`, { method: "POST", headers: bearer(token) });
  }

  /** Push-to-talk: the text of a recording (no turn starts). */
  transcribe({ sessionId, token }: SessionCredentials, audio: Blob): Promise<ApiResult<{ text: string }>> {
    const body = new FormData();
    body.append("audio", audio);
    return this.#json(`/session/${encodeURIComponent(sessionId)}/transcribe`, { method: "POST", headers: bearer(token), body });
  }

  /** Back to chat: detaches the voice call. */
  endVoice({ sessionId, token }: SessionCredentials): Promise<ApiResult<unknown>> {
    return this.#json(`/session/${encodeURIComponent(sessionId)}/voice/end`, { method: "POST", headers: bearer(token) });
  }

  #json<T>(path: string, init: RequestInit): Promise<ApiResult<T>> {
    return this.#call(path, init, (res) => res.json() as Promise<T>);
  }

  async #call<T>(path: string, init: RequestInit, read: (res: Response) => Promise<T>): Promise<ApiResult<T>> {
    let res: Response;
    try {
      // No cookies: the token is the only credential, and no-store (unless a call says otherwise)
      // keeps state answers fresh.
      res = await fetch(this.#base + path, { cache: "no-store", ...init, credentials: "omit" });
    } catch {
      return { ok: false, failure: { kind: "network" } };
    }
    if (!res.ok) return { ok: false, failure: await httpFailure(res) };
    try {
      return { ok: true, value: await read(res) };
    } catch {
      return { ok: false, failure: { kind: "network" } };
    }
  }
}

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

async function httpFailure(res: Response): Promise<ApiFailure> {
  let code = "unknown";
  let message = res.statusText;
  let siteKey: string | undefined;
  try {
    const body = (await res.json()) as { error?: { code?: unknown; message?: unknown; details?: { siteKey?: unknown } } };
    if (typeof body.error?.code === "string") code = body.error.code;
    if (typeof body.error?.message === "string") message = body.error.message;
    if (typeof body.error?.details?.siteKey === "string") siteKey = body.error.details.siteKey;
  } catch {
    // Not parley's JSON (a proxy's page): the status alone decides.
  }
  const retryAfter = Number(res.headers.get("retry-after"));
  return {
    kind: "http",
    status: res.status,
    code,
    message,
    ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
    ...(siteKey ? { siteKey } : {}),
  };
}
