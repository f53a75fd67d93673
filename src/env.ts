import type { Redis } from "@upstash/redis/cloudflare";
import type { SessionClaims } from "./auth/session-token";
import type { Config } from "./config";
import type { Database } from "./db/client";
import type { ChatSession, Widget } from "./db/schema";
import type { HeldLock } from "./gates/lock";
import type { ModelResolver } from "./model/provider";

/** Per-request values every route can read from `c.var`. */
export interface AppVariables {
  config: Config;
  /** Chooses each turn's model (`resolveModel` unless the app was built with another). */
  resolveModel: ModelResolver;
  db: Database;
  redis: Redis;
  /** Set by `tokenGate`. */
  claims: SessionClaims;
  /** Set by `widgetGate`. */
  widget: Widget;
  /** Set by `widgetGate` when the session belongs to the widget; checked by `sessionGate`. */
  session: ChatSession | null;
  /** Set by `messageGate`. */
  message: { id: string; text: string };
  /** Set by `lockGate`. */
  lock: HeldLock;
}

export type AppEnv = { Bindings: Env; Variables: AppVariables };
