import { sign, verify } from "hono/jwt";
import { z } from "zod";

/** How long a widget session token is valid, in seconds. */
export const SESSION_TOKEN_TTL_S = 24 * 60 * 60;
const ALG = "HS256";

const claimsSchema = z.object({
  sid: z.uuid(),
  wid: z.uuid(),
  typ: z.literal("widget"),
  iat: z.number(),
  exp: z.number(),
});
export type SessionClaims = z.infer<typeof claimsSchema>;

/** Signs a widget session token bound to one session of one widget. */
export async function signSessionToken(
  { sessionId, widgetId, now = Date.now() }: { sessionId: string; widgetId: string; now?: number },
  secret: string,
): Promise<{ token: string; expiresAt: Date }> {
  const iat = Math.floor(now / 1000);
  const exp = iat + SESSION_TOKEN_TTL_S;
  const claims: SessionClaims = { sid: sessionId, wid: widgetId, typ: "widget", iat, exp };
  return { token: await sign(claims, secret, ALG), expiresAt: new Date(exp * 1000) };
}

/** The token's claims, or null when it is malformed, forged, expired or not a widget token. */
export async function verifySessionToken(token: string, secret: string): Promise<SessionClaims | null> {
  try {
    const parsed = claimsSchema.safeParse(await verify(token, secret, ALG));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
