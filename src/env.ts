import type { Redis } from "@upstash/redis/cloudflare";
import type { RequestIdVariables } from "hono/request-id";
import type { Config } from "./config";
import type { Database } from "./db/client";
import type { ModelResolver } from "./model/provider";

/** Per-request values every route can read from `c.var` (set by the `clients` middleware). */
export interface AppVariables extends RequestIdVariables {
  config: Config;
  /** Chooses each turn's model (`resolveModel` unless the app was built with another). */
  resolveModel: ModelResolver;
  db: Database;
  redis: Redis;
}

export type AppEnv = { Bindings: Env; Variables: AppVariables };

/**
 * The env of a gate or handler that also reads the variables `V` earlier gates set: each gate
 * exports its own variables type, so a handler can read only what the gates before it provide.
 */
export type GateEnv<V extends object = object> = { Bindings: Env; Variables: AppVariables & V };
