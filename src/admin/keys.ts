/** Where a key belongs (`Config["environment"]`); spelled out so Node scripts can mint keys too. */
export type KeyEnvironment = "development" | "preview" | "production";

/** Random bytes in an admin key: 256 bits, well above the 128 the design asks for. */
export const ADMIN_KEY_RANDOM_BYTES = 32;
/** Random bytes in a widget's public key. */
export const PUBLIC_KEY_RANDOM_BYTES = 32;
/** Characters of the random part kept in an admin key's display prefix. */
const DISPLAY_RANDOM_CHARS = 8;

const ENVIRONMENT_TAG: Record<KeyEnvironment, string> = { production: "live", preview: "preview", development: "dev" };

/** `bytes` random bytes as base64url without padding. */
export function randomBase64Url(bytes: number): string {
  const buffer = crypto.getRandomValues(new Uint8Array(bytes));
  let binary = "";
  for (const byte of buffer) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** A widget's public key: `pk_` and 32 random bytes, base64url. Public by design (it sits in pages). */
export function generatePublicKey(): string {
  return `pk_${randomBase64Url(PUBLIC_KEY_RANDOM_BYTES)}`;
}

/** Hex SHA-256 of an admin key: all that is stored of it. */
export async function hashAdminKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

export interface MintedAdminKey {
  /** The whole key: shown once, never stored. */
  key: string;
  keyHash: string;
  /** `sk_<env>_` and the first characters of the random part. */
  displayPrefix: string;
}

/**
 * A new admin key, `sk_<env>_<43 base64url chars>` (`env`: `live`, `preview` or `dev`), so a key
 * says where it belongs and never looks like a widget's `pk_` key.
 */
export async function mintAdminKey(environment: KeyEnvironment): Promise<MintedAdminKey> {
  const prefix = `sk_${ENVIRONMENT_TAG[environment]}_`;
  const random = randomBase64Url(ADMIN_KEY_RANDOM_BYTES);
  const key = prefix + random;
  return { key, keyHash: await hashAdminKey(key), displayPrefix: prefix + random.slice(0, DISPLAY_RANDOM_CHARS) };
}

/**
 * Compares two secrets in time independent of where they differ: both are hashed first, so
 * lengths leak nothing either.
 */
export async function secretsEqual(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([hashAdminKey(a), hashAdminKey(b)]);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x.charCodeAt(i) ^ y.charCodeAt(i);
  return diff === 0;
}
