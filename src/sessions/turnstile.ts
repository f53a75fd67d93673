import { errorFields, log } from "../log/log";

/** Longest a siteverify call may take before the challenge counts as unverifiable (503), in ms. */
export const TURNSTILE_TIMEOUT_MS = 3_000;

export type TurnstileOutcome = { ok: true } | { ok: false; reason: "failed" | "unavailable"; errorCodes?: string[] };

/**
 * Verifies a Turnstile token with the siteverify endpoint (form-encoded `secret`, `response`,
 * `remoteip`, `idempotency_key`), as Cloudflare documents it. `failed` when Turnstile says the
 * token is not good (bad, expired, used twice, another site's); `unavailable` when it cannot be
 * asked (network, timeout, non-2xx).
 */
export async function verifyTurnstile({
  verifyUrl,
  secret,
  token,
  remoteIp,
  timeoutMs = TURNSTILE_TIMEOUT_MS,
}: {
  verifyUrl: string;
  secret: string;
  token: string;
  remoteIp: string | null;
  timeoutMs?: number;
}): Promise<TurnstileOutcome> {
  const form = new URLSearchParams({ secret, response: token, idempotency_key: crypto.randomUUID() });
  if (remoteIp) form.set("remoteip", remoteIp);
  try {
    const res = await fetch(verifyUrl, { method: "POST", body: form, signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) {
      log("warn", "turnstile siteverify answered an error", { status: res.status });
      return { ok: false, reason: "unavailable" };
    }
    const body = (await res.json()) as { success?: unknown; "error-codes"?: unknown };
    if (body.success === true) return { ok: true };
    const errorCodes = Array.isArray(body["error-codes"]) ? body["error-codes"].map(String) : [];
    return { ok: false, reason: "failed", errorCodes };
  } catch (error) {
    log("warn", "turnstile siteverify unreachable", errorFields(error));
    return { ok: false, reason: "unavailable" };
  }
}
