import { isStorableText } from "../storable-text";
import { fromBase64Url } from "./secret-box";

/**
 * Identity tokens: JWTs the merchant's own server signs with the widget's identity secret
 * (README "Verified visitors"). Verified with WebCrypto's HMAC directly rather than a JWT library:
 * one algorithm, every rule below written out, nothing added to the Worker's bundle.
 */

/** The one algorithm accepted; a token naming any other (`none` included) is refused unread (RFC 8725 §3.1). */
export const IDENTITY_TOKEN_ALG = "HS256";
/** Furthest ahead of now a token's `exp` may be, in seconds. */
export const MAX_IDENTITY_TOKEN_LIFETIME_S = 24 * 60 * 60;
/** Clock difference tolerated between the merchant's server and parley, in seconds. */
export const CLOCK_SKEW_S = 60;
/** Longest `sub` accepted, in characters. */
export const MAX_VISITOR_ID_LENGTH = 255;

export interface VerifiedIdentity {
  /** The merchant's id of the visitor (`sub`). */
  visitorId: string;
  /** The token's `vars`: the only source of a template's trusted variables. */
  vars: Record<string, unknown>;
}

export type IdentityVerdict = { ok: true; identity: VerifiedIdentity } | { ok: false; reason: string };

const refuse = (reason: string): IdentityVerdict => ({ ok: false, reason });

/**
 * Verifies `token` against `secret` (its UTF-8 bytes are the HMAC key, as JWT libraries use a
 * string secret). The header is checked first and the signature before any claim is read, so
 * nothing unverified is trusted; a token for another widget fails the signature, since each
 * widget has a secret of its own. `now` in ms.
 */
export async function verifyIdentityToken(token: string, secret: string, now = Date.now()): Promise<IdentityVerdict> {
  const parts = token.split(".");
  if (parts.length !== 3) return refuse("it is not a JWT (three base64url parts)");
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodeJson(headerPart);
  if (!isObject(header)) return refuse("its header is not base64url JSON");
  if (header.alg !== IDENTITY_TOKEN_ALG) return refuse(`its alg is ${JSON.stringify(header.alg ?? null)}, and only HS256 is accepted`);
  // RFC 7515 §4.1.11: a critical extension we do not implement makes the token invalid.
  if ("crit" in header) return refuse("its header has crit extensions, which are not supported");

  let signature: Uint8Array<ArrayBuffer>;
  try {
    signature = fromBase64Url(signaturePart);
  } catch {
    return refuse("its signature is not base64url");
  }
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  // crypto.subtle.verify compares in constant time.
  if (!(await crypto.subtle.verify("HMAC", key, signature, encoder.encode(`${headerPart}.${payloadPart}`)))) {
    return refuse("its signature does not match this widget's identity secret");
  }

  const claims = decodeJson(payloadPart);
  if (!isObject(claims)) return refuse("its payload is not a JSON object");
  const nowS = Math.floor(now / 1000);
  const { sub, exp, iat, nbf, vars } = claims;
  if (typeof sub !== "string" || sub.length === 0 || sub.length > MAX_VISITOR_ID_LENGTH || /[\u0000-\u001f]/.test(sub) || !isStorableText(sub)) {
    return refuse(`its sub must be the visitor's id: 1–${MAX_VISITOR_ID_LENGTH} characters, no control characters`);
  }
  if (!isSeconds(exp)) return refuse("it has no numeric exp (seconds since the epoch)");
  if (!isSeconds(iat)) return refuse("it has no numeric iat (seconds since the epoch)");
  if (exp + CLOCK_SKEW_S <= nowS) return refuse("it has expired (exp is in the past): sign a fresh one for each page view");
  if (exp > nowS + MAX_IDENTITY_TOKEN_LIFETIME_S + CLOCK_SKEW_S) return refuse("its exp is more than 24 hours ahead");
  if (iat > nowS + CLOCK_SKEW_S) return refuse("its iat is in the future");
  if (nbf !== undefined && (!isSeconds(nbf) || nbf > nowS + CLOCK_SKEW_S)) return refuse("it is not valid yet (nbf)");
  if (vars !== undefined && !isObject(vars)) return refuse("its vars claim must be a JSON object");
  return { ok: true, identity: { visitorId: sub, vars: vars ?? {} } };
}

function decodeJson(part: string): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(fromBase64Url(part)));
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isSeconds(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}
