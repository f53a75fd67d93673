import type { TestProject } from "vitest/node";
import { startBrowserStack } from "./stack";

/** Starts the real stack once for every browser test file and stops it after the last. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stack = await startBrowserStack();
  project.provide("browserApiUrl", stack.apiUrl);
  project.provide("browserShopUrl", stack.shopUrl);
  project.provide("browserDatabaseUrl", stack.databaseUrl);
  return () => stack.stop();
}
