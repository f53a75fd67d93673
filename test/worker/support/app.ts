import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { parseConfig, type OptionalBindings } from "../../../src/config";
import { createDb } from "../../../src/db/client";
import { createRedis } from "../../../src/redis";
import worker from "../../../src/index";

export const ORIGIN = "https://shop.example";
export const CLIENT_IP = "203.0.113.7";

export interface Call {
  res: Response;
  /** Resolves once the request's `waitUntil` work (persisting, releasing) has finished. */
  settled(): Promise<void>;
}

/** One request to the Worker, as a widget on `ORIGIN` would send it. */
export async function call(
  path: string,
  { token, json, body, headers, method, signal, env: envOverride, app = worker }: {
    token?: string;
    json?: unknown;
    /** A raw body, sent as is (e.g. malformed JSON); `json` wins when both are given. */
    body?: string;
    headers?: Record<string, string>;
    method?: string;
    signal?: AbortSignal;
    /** Bindings laid over the test env for this request only (e.g. `OPENAI_API_KEY`). */
    env?: Partial<Env> & OptionalBindings;
    /** Another build of the app (e.g. `createApp({ resolveModel })`); the Worker by default. */
    app?: Pick<typeof worker, "fetch">;
  } = {},
): Promise<Call> {
  const ctx = createExecutionContext();
  const request = new Request(`http://parley.test${path}`, {
    method: method ?? (json === undefined ? "GET" : "POST"),
    headers: {
      origin: ORIGIN,
      "cf-connecting-ip": CLIENT_IP,
      ...(json === undefined ? {} : { "content-type": "application/json" }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    ...(json !== undefined ? { body: JSON.stringify(json) } : body !== undefined ? { body } : {}),
    ...(signal ? { signal } : {}),
  });
  const res = await app.fetch(request, envOverride ? { ...env, ...envOverride } : env, ctx);
  return { res, settled: () => waitOnExecutionContext(ctx) };
}

export const post = (path: string, options: Parameters<typeof call>[1] = {}) =>
  call(path, { method: "POST", ...options });

/** The Worker's own clients, for arranging and inspecting state. */
export function stores() {
  const config = parseConfig(env);
  return { config, db: createDb(config), redis: createRedis(config) };
}
