import { createMiddleware } from "hono/factory";
import { parseConfig } from "../config";
import { createDb } from "../db/client";
import type { AppEnv } from "../env";
import { createRedis } from "../redis";

/** Parses the configuration and makes this request's database and Redis clients (no I/O yet). */
export const clients = () =>
  createMiddleware<AppEnv>(async function clients(c, next) {
    const config = parseConfig(c.env);
    c.set("config", config);
    c.set("db", createDb(config));
    c.set("redis", createRedis(config));
    await next();
  });
