/**
 * Widgets' identity secrets at rest. The merchant's server signs identity tokens with the secret
 * (HS256), so parley must be able to read it back: it is stored AES-256-GCM encrypted, never
 * hashed. The key is derived (HKDF-SHA-256, a label of its own) from `IDENTITY_ENCRYPTION_KEY`,
 * or from `SESSION_TOKEN_SECRET` when that is unset; the widget's id is the additional data, so a
 * ciphertext copied onto another widget's row does not decrypt. A database dump alone therefore
 * reveals no identity secret. Web-standard only: the seed (Node) uses it too.
 */

/** The stored form's version tag: `v1.<iv>.<ciphertext>`, both base64url. */
const FORMAT = "v1";
const HKDF_INFO = "parley identity-secret encryption v1";
/** What a secret starts with, so a merchant can tell it from other keys. */
export const IDENTITY_SECRET_PREFIX = "pis_";
const SECRET_BYTES = 32;
const IV_BYTES = 12;

const encoder = new TextEncoder();

/** A fresh identity secret: `pis_` + 32 random bytes, base64url (256 bits). Shown once. */
export function generateIdentitySecret(): string {
  return IDENTITY_SECRET_PREFIX + toBase64Url(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)));
}

/** The AES-GCM key of `keyMaterial` (any string of ≥ 32 bytes). */
export async function identityEncryptionKey(keyMaterial: string): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", encoder.encode(keyMaterial), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: encoder.encode(HKDF_INFO) },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/** `secret` encrypted for the row of widget `widgetId`. */
export async function sealIdentitySecret(secret: string, { key, widgetId }: { key: CryptoKey; widgetId: string }): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: encoder.encode(widgetId) }, key, encoder.encode(secret));
  return `${FORMAT}.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(sealed))}`;
}

/** The secret stored for widget `widgetId`, or null when it does not decrypt (another key, another row, damaged). */
export async function openIdentitySecret(stored: string, { key, widgetId }: { key: CryptoKey; widgetId: string }): Promise<string | null> {
  const [format, iv, sealed, ...rest] = stored.split(".");
  if (format !== FORMAT || !iv || !sealed || rest.length) return null;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64Url(iv), additionalData: encoder.encode(widgetId) },
      key,
      fromBase64Url(sealed),
    );
    return new TextDecoder().decode(plain);
  } catch {
    return null;
  }
}

export function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Throws on anything but base64url. */
export function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new TypeError("not base64url");
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
