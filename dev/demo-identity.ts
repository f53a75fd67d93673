/**
 * The demo's verified visitors: two widgets with identity secrets that are published
 * development values (like the Turnstile test keys), and the merchant's side — the demo shop's
 * server signs each page's identity token with `jose`, as a merchant's server would. The pages'
 * query picks the visitor and, for the tests, a token that must be refused.
 */
import { SignJWT } from "jose";

export const DEMO_IDENTITY = {
  /** `pk_local_identity`: identity optional, returning visitors resumed. */
  secret: "pis_local-demo-identity-secret-not-for-production-use-0001",
  /** `pk_local_members`: `requireIdentity` on. */
  membersSecret: "pis_local-demo-members-secret-not-for-production-use-0002",
} as const;

/** What a demo page's `?token=` asks for: a valid token (the default), none, or one parley refuses. */
export type DemoTokenKind = "valid" | "absent" | "forged" | "expired" | "other-widget" | "alg-none";

export interface DemoVisitor {
  sub: string;
  vars: Record<string, string>;
}

const encoder = new TextEncoder();
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** The identity token the page embeds, signed with `secret` (the page's widget's), or null for none. */
export async function demoIdentityToken(kind: DemoTokenKind, { secret, otherSecret, visitor }: { secret: string; otherSecret: string; visitor: DemoVisitor }): Promise<string | null> {
  const sign = (key: string, exp: string | number, iat?: number) =>
    new SignJWT({ vars: visitor.vars })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(visitor.sub)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(encoder.encode(key));
  const now = Math.floor(Date.now() / 1000);
  switch (kind) {
    case "absent":
      return null;
    case "valid":
      return sign(secret, "15m");
    case "forged":
      return sign(`${secret}-guessed`, "15m");
    case "expired":
      return sign(secret, now - 3_600, now - 7_200);
    case "other-widget":
      return sign(otherSecret, "15m");
    case "alg-none":
      return `${base64url({ alg: "none", typ: "JWT" })}.${base64url({ sub: visitor.sub, vars: visitor.vars, iat: now, exp: now + 900 })}.`;
  }
}

export const DEMO_TOKEN_KINDS: readonly DemoTokenKind[] = ["valid", "absent", "forged", "expired", "other-widget", "alg-none"];
