import { randomBytes } from "node:crypto";
import { createServer as createTcpServer, type Server } from "node:net";
import { resolve } from "node:path";
import type { TestProject } from "vitest/node";
import { applyMigrations } from "../dev/migrate";
import { startNeonShim } from "../dev/neon-shim";
import { createDatabase, dropDatabase, ensurePostgres, ensureRedis, withDatabase } from "../dev/services";
import { startUpstashShim } from "../dev/upstash-shim";
import { startDemoMcpServer } from "../dev/mcp-server";
import { startFakeOpenAI } from "./support/fake-openai";
import { startFakeTurnstile } from "./support/fake-turnstile";
import { startFlakyProxy } from "./support/flaky-proxy";
import { startToolServer } from "./support/tool-server";

const UPSTASH_TOKEN = "test-upstash-token";
const SLOW_REDIS_LATENCY_MS = 300;
const SLOW_NEON_LATENCY_MS = 400;
/** Under the cancel watch's 1 s confirmation bound, so the late subscription is still used. */
const LATE_SUBSCRIBE_DELAY_MS = 600;
/** Tests keep to Redis database 1 so a developer's local stack (database 0) is untouched. */
const TEST_REDIS_DB = "1";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stateDir = resolve(import.meta.dirname, "../.parley/test");
  const log = (line: string) => console.log(`[test setup] ${line}`);
  const postgres = await ensurePostgres({ stateDir, log });
  const redis = await ensureRedis({ stateDir, log });

  const databaseName = `parley_test_${randomBytes(5).toString("hex")}`;
  await createDatabase(postgres.url, databaseName);
  const databaseUrl = withDatabase(postgres.url, databaseName);
  await applyMigrations(databaseUrl);

  const redisUrl = withDatabase(redis.url, TEST_REDIS_DB);
  const upstash = await startUpstashShim({ redisUrl, token: UPSTASH_TOKEN });
  const slowUpstash = await startUpstashShim({ redisUrl, token: UPSTASH_TOKEN, latencyMs: SLOW_REDIS_LATENCY_MS });
  const quietUpstash = await startUpstashShim({ redisUrl, token: UPSTASH_TOKEN });
  const lateSubscribeUpstash = await startUpstashShim({ redisUrl, token: UPSTASH_TOKEN, subscribeDelayMs: LATE_SUBSCRIBE_DELAY_MS });
  const cutSubscribeUpstash = await startUpstashShim({ redisUrl, token: UPSTASH_TOKEN, hangUpSubscriptions: true });
  const neon = await startNeonShim({});
  const slowNeon = await startNeonShim({ latencyMs: SLOW_NEON_LATENCY_MS });
  const hanging = await startHangingServer();
  const flakyUpstash = await startFlakyProxy(upstash.url);
  const turnstile = await startFakeTurnstile();
  const fakeOpenAI = await startFakeOpenAI();
  const toolServer = await startToolServer();
  const mcpServer = await startDemoMcpServer();

  project.provide("databaseUrl", databaseUrl);
  project.provide("redisUrl", redisUrl);
  project.provide("neonEndpoint", `${neon.url}/sql`);
  project.provide("slowNeonEndpoint", `${slowNeon.url}/sql`);
  project.provide("hangingUrl", hanging.url);
  project.provide("flakyUpstashUrl", flakyUpstash.url);
  project.provide("turnstileVerifyUrl", turnstile.url);
  project.provide("upstashUrl", upstash.url);
  project.provide("upstashToken", UPSTASH_TOKEN);
  project.provide("slowUpstashUrl", slowUpstash.url);
  project.provide("quietUpstashUrl", quietUpstash.url);
  project.provide("lateSubscribeUpstashUrl", lateSubscribeUpstash.url);
  project.provide("cutSubscribeUpstashUrl", cutSubscribeUpstash.url);
  project.provide("openaiBaseUrl", fakeOpenAI.url);
  project.provide("toolServerUrl", toolServer.url);
  project.provide("mcpServerUrl", mcpServer.url);

  return async () => {
    await Promise.all([upstash.close(), slowUpstash.close(), quietUpstash.close(), lateSubscribeUpstash.close(), cutSubscribeUpstash.close(), neon.close(), slowNeon.close(), hanging.close(), flakyUpstash.close(), turnstile.close(), fakeOpenAI.close(), toolServer.close(), mcpServer.close()]);
    await dropDatabase(postgres.url, databaseName);
    await Promise.all([postgres.stop(), redis.stop()]);
  };
}

/**
 * A TCP server on loopback that accepts connections and never finishes answering: a hung
 * dependency. A request to a path under `/stall` gets its status line, headers and the start of
 * a body, then nothing more; any other request gets nothing at all.
 */
async function startHangingServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<import("node:net").Socket>();
  const server: Server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.once("data", (data) => {
      if (/^\w+ \/stall/.test(data.toString("latin1"))) {
        socket.write("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"fields\":");
      }
    });
  });
  await new Promise<void>((resolveListen) => server.listen(0, "127.0.0.1", resolveListen));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolveClose) => {
        sockets.forEach((socket) => socket.destroy());
        server.close(() => resolveClose());
      }),
  };
}
