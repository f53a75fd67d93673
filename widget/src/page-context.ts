import type { SessionCredentials, WidgetApi } from "./api";

/**
 * `Parley.setContext`: keeps the page's latest context and pushes it to the session
 * (`POST /session/:id/context`), to a session opened later too — a new conversation gets it
 * again. Each push carries a fresh revision (a clock in ms, always rising), so a slow push never
 * overwrites a newer one, also across tabs and reloads. A message waits for the push in flight,
 * so the turn it starts sees the context set before it.
 */
export class PageContextSync {
  readonly #api: WidgetApi;
  #latest: Record<string, unknown> | null = null;
  /** The latest context has not reached the current session yet. */
  #dirty = false;
  #revision = 0;
  #inFlight: Promise<unknown> = Promise.resolve();

  constructor(api: WidgetApi) {
    this.#api = api;
  }

  /** Remembers `context` (replacing the last one) and pushes it when there is a session. */
  set(context: unknown, session: SessionCredentials | null): void {
    // A snapshot as JSON: later changes to the page's objects do not leak into a push, and a
    // value JSON cannot hold (a cycle) is refused here, not in the middle of a turn.
    let json: string | undefined;
    try {
      json = JSON.stringify(context);
    } catch {
      // falls through to the refusal
    }
    if (!json?.startsWith("{")) {
      console.error("parley: Parley.setContext takes a JSON object, e.g. Parley.setContext({ cart: [...] }).");
      return;
    }
    this.#latest = JSON.parse(json) as Record<string, unknown>;
    this.#dirty = true;
    if (session) this.push(session);
  }

  /** A session was opened or restored: it gets the latest context. */
  sessionChanged(session: SessionCredentials): void {
    this.#dirty = this.#latest !== null;
    this.push(session);
  }

  /** Pushes the latest context if the session has not got it yet. */
  push(session: SessionCredentials): void {
    if (!this.#dirty || !this.#latest) return;
    this.#dirty = false;
    this.#revision = Math.max(Date.now(), this.#revision + 1);
    const pushed = this.#api.setContext(session, { context: this.#latest, revision: this.#revision }).then((result) => {
      if (result.ok) {
        if (result.value.dropped.length) console.warn(`parley: page context keys not on the template's allow-list were dropped: ${result.value.dropped.join(", ")}`);
      } else if (result.failure.kind === "http") console.error(`parley: the page context was refused: ${result.failure.message}`);
      // Not through (network): the next message tries again.
      else this.#dirty = true;
    });
    this.#inFlight = Promise.all([this.#inFlight, pushed]);
  }

  /** Resolves once every push so far has been answered (or failed). */
  settled(): Promise<unknown> {
    return this.#inFlight;
  }
}
