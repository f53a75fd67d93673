/**
 * Cloudflare Turnstile in the browser: loads its script once (explicit rendering) and runs one
 * challenge into a container, answering the token the session create then carries.
 */

/** Turnstile's script with explicit rendering: nothing renders until the widget asks. */
export const TURNSTILE_SCRIPT = "https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit";

/** What the widget uses of `window.turnstile` (Cloudflare's explicit rendering API). */
export interface TurnstileApi {
  /** Renders a challenge into `container` (an element, here in the light DOM); answers its id. */
  render(
    container: HTMLElement,
    options: { sitekey: string; callback(token: string): void; "error-callback"(code?: string): void; "expired-callback"?(): void },
  ): string | null | undefined;
  remove(widgetId: string): void;
}

declare global {
  interface Window {
    turnstile?: TurnstileApi;
  }
}

let loading: Promise<TurnstileApi> | null = null;

/**
 * Adds Turnstile's `<script>` to the page once and answers `window.turnstile` once it ran. A
 * script that fails to load is forgotten, so the next challenge tries again.
 */
export function loadTurnstile(src: string): Promise<TurnstileApi> {
  if (window.turnstile) return Promise.resolve(window.turnstile);
  loading ??= new Promise<TurnstileApi>((done, fail) => {
    const script = document.createElement("script");
    script.src = src;
    script.async = true;
    script.onload = () => (window.turnstile ? done(window.turnstile) : fail(new Error("turnstile script without window.turnstile")));
    script.onerror = () => fail(new Error(`could not load ${src}`));
    document.head.append(script);
  }).catch((error: unknown) => {
    loading = null;
    throw error;
  });
  return loading;
}

/**
 * Runs one challenge of `siteKey` in `container`: resolves with the token when it is passed,
 * rejects when Turnstile reports an error or the token expires before it was used. The
 * rendered challenge is removed either way.
 */
export function runChallenge(turnstile: TurnstileApi, container: HTMLElement, siteKey: string): Promise<string> {
  return new Promise<string>((done, fail) => {
    let widgetId: string | null | undefined;
    let settled = false;
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      // Turnstile may call back during render itself, before it answered the id.
      queueMicrotask(() => {
        if (widgetId) turnstile.remove(widgetId);
        finish();
      });
    };
    widgetId = turnstile.render(container, {
      sitekey: siteKey,
      callback: (token) => settle(() => done(token)),
      "error-callback": (code) => settle(() => fail(new Error(`turnstile error ${code ?? ""}`.trim()))),
      "expired-callback": () => settle(() => fail(new Error("turnstile token expired"))),
    });
  });
}
