// What test/global-setup.ts provides to every test file (`inject(...)`), in one place for both
// the workerd and the Node tsconfig.
import "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    /** A database of this run's own, migrated: `postgres://…/parley_test_<hex>`. */
    databaseUrl: string;
    /** Redis database 1; tests use fresh ids instead of cleaning up. */
    redisUrl: string;
    /** The Neon shim's `/sql` endpoint. */
    neonEndpoint: string;
    upstashUrl: string;
    upstashToken: string;
    /** The same Redis behind a shim that adds 300 ms to every request: makes races visible. */
    slowUpstashUrl: string;
    /** The fake OpenAI-compatible server's base URL, ending in `/v1`. */
    openaiBaseUrl: string;
    /** Targets for HTTP tools: success, failure, slow and oversized answers. */
    toolServerUrl: string;
    /** The demo MCP server's Streamable HTTP endpoint. */
    mcpServerUrl: string;
  }
}
