import { createMiddleware } from "hono/factory";
import { verifySessionToken, type SessionClaims } from "../auth/session-token";
import type { GateEnv } from "../env";
import { ApiError } from "../errors";

export interface TokenVariables {
  /** The verified session token's claims. */
  claims: SessionClaims;
}

/** Gate 1: a valid, unexpired widget token, bound to the session in the path. */
export const tokenGate = () =>
  createMiddleware<GateEnv<TokenVariables>>(async function tokenGate(c, next) {
    const match = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "");
    if (!match) {
      throw new ApiError("invalid_token", { message: "Send the session token as `Authorization: Bearer <token>`." });
    }
    const claims = await verifySessionToken(match[1]!, c.var.config.sessionTokenSecret);
    if (!claims) throw new ApiError("invalid_token");
    // A valid token for another session learns nothing: the same answer as a missing session.
    if (claims.sid !== c.req.param("id")) throw new ApiError("session_not_found");
    c.set("claims", claims);
    await next();
  });
