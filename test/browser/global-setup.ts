import type { TestProject } from "vitest/node";
import { startDevStack } from "../support/dev-stack";

/** First of the browser stack's six ports. @default 9340 */
const PORT_BASE = Number(process.env.BROWSER_TEST_PORT_BASE ?? 9340);

/** Starts the real stack once for every browser test file and stops it after the last. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Redis database 2 of its own; no model key, so the scripted model.
  const stack = await startDevStack({ name: "widget", portBase: PORT_BASE, redisDb: "2" });
  project.provide("browserApiUrl", stack.apiUrl);
  project.provide("browserShopUrl", stack.shopUrl);
  project.provide("browserDatabaseUrl", stack.databaseUrl);
  return () => stack.stop();
}
