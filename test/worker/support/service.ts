import { env } from "cloudflare:test";
import type { OptionalBindings } from "../../../src/config";
import { post } from "./app";

/** The test run's `SERVICE_API_KEY` (vitest.config.ts). */
export const SERVICE_KEY = (env as Env & OptionalBindings).SERVICE_API_KEY!;

/** A call of the voice bot to the service API: `POST /v1/internal/session/:id/voice/<action>`. */
export const voiceCall = (sessionId: string, action: "attach" | "detach" | "turn", json: unknown, key: string = SERVICE_KEY, env?: Partial<Env>) =>
  post(`/v1/internal/session/${sessionId}/voice/${action}`, { json, headers: { authorization: `Bearer ${key}` }, ...(env ? { env } : {}) });
