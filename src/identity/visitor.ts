import type { Widget } from "../db/schema";
import { ApiError } from "../errors";
import { fromBase64Url, identityEncryptionKey, openIdentitySecret } from "./secret-box";
import { MAX_VISITOR_ID_LENGTH, verifyIdentityToken, type VerifiedIdentity } from "./token";

/** Derived keys by key material: plain data (CryptoKeys), no I/O, so module scope may hold them. */
const keys = new Map<string, Promise<CryptoKey>>();

/** The AES-GCM key identity secrets are sealed with, derived once per isolate. */
export function identityKey(keyMaterial: string): Promise<CryptoKey> {
  let key = keys.get(keyMaterial);
  if (!key) {
    key = identityEncryptionKey(keyMaterial);
    keys.set(keyMaterial, key);
  }
  return key;
}

/**
 * Session create's identity check: the visitor the page's identity token names, verified
 * against the widget's identity secret, or null for an anonymous visitor. A token that does not
 * verify → 401 `invalid_identity` (whatever else the request holds); none on a widget with
 * `requireIdentity` → 401 `identity_required`.
 */
export async function identifyVisitor(
  widget: Pick<Widget, "id" | "identitySecret" | "requireIdentity">,
  { token, keyMaterial, now = Date.now() }: { token: string | undefined; keyMaterial: string; now?: number },
): Promise<VerifiedIdentity | null> {
  if (token === undefined) {
    if (widget.requireIdentity) throw new ApiError("identity_required");
    return null;
  }
  if (widget.identitySecret === null) {
    throw new ApiError("invalid_identity", {
      message: "This widget has no identity secret, so no identity token can verify: create one with POST /v1/admin/widgets/{id}/identity-secret.",
    });
  }
  const secret = await openIdentitySecret(widget.identitySecret, { key: await identityKey(keyMaterial), widgetId: widget.id });
  if (secret === null) {
    throw new ApiError("misconfigured", {
      message:
        "The widget's identity secret does not decrypt with this deployment's key (IDENTITY_ENCRYPTION_KEY, else SESSION_TOKEN_SECRET, changed since it was made): rotate the widget's identity secret.",
    });
  }
  const verdict = await verifyIdentityToken(token, secret, now);
  if (!verdict.ok) throw new ApiError("invalid_identity", { message: `The identity token is not valid: ${verdict.reason}.` });
  return verdict.identity;
}

/**
 * The `sub` a token claims, read without verifying it: only to look up the visitor's latest
 * session in parallel with the widget, a lookup used once the token is verified. Null when unreadable.
 */
export function claimedVisitorId(token: string | undefined): string | null {
  const payload = token?.split(".")[1];
  if (!payload) return null;
  try {
    const claims: unknown = JSON.parse(new TextDecoder().decode(fromBase64Url(payload)));
    const sub = (claims as { sub?: unknown } | null)?.sub;
    return typeof sub === "string" && sub.length > 0 && sub.length <= MAX_VISITOR_ID_LENGTH ? sub : null;
  } catch {
    return null;
  }
}
