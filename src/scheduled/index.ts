import { parseConfig } from "../config";
import { createDb } from "../db/client";
import { errorFields, log } from "../log/log";
import { createRedis } from "../redis";
import { expireIdleSessions } from "./idle-expiry";

/**
 * The Worker's `scheduled` handler (wrangler.toml `[triggers] crons`): the idle sweep. One log
 * line per run with its counts; a failure is logged and rethrown, so the Cron Trigger's run shows
 * as failed, and the next run picks up where this one could not.
 */
export async function scheduled(controller: Pick<ScheduledController, "cron" | "scheduledTime">, env: Env): Promise<void> {
  const startedAt = Date.now();
  try {
    const config = parseConfig(env);
    const result = await expireIdleSessions(
      { db: createDb(config), redis: createRedis(config) },
      { idleTimeoutMs: config.sessionIdleTimeoutMs, keyPrefix: config.redisKeyPrefix, now: controller.scheduledTime },
    );
    log("info", "idle sweep", { cron: controller.cron, ...result, durationMs: Date.now() - startedAt });
  } catch (error) {
    log("error", "idle sweep failed", { cron: controller.cron, durationMs: Date.now() - startedAt, ...errorFields(error) });
    throw error;
  }
}
