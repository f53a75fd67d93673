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
    /** The same database behind a Neon shim that adds 400 ms to every request: delays a turn's writes. */
    slowNeonEndpoint: string;
    /** A loopback server that accepts connections and never answers. */
    hangingUrl: string;
    /** A proxy in front of the Upstash shim: `POST /__fail` cuts it off, `POST /__heal` restores it. */
    flakyUpstashUrl: string;
    /** A fake Turnstile siteverify endpoint (test/support/fake-turnstile.ts). */
    turnstileVerifyUrl: string;
    upstashUrl: string;
    upstashToken: string;
    /** The same Redis behind a shim that adds 300 ms to every request: makes races visible. */
    slowUpstashUrl: string;
    /** A shim of its own for the one test that counts a turn's Redis requests. */
    quietUpstashUrl: string;
    /** Its `/subscribe` waits 600 ms before subscribing in Redis: a cancel in that window is not pushed. */
    lateSubscribeUpstashUrl: string;
    /** Its `/subscribe` answers 200 and ends the stream at once, never confirming. */
    cutSubscribeUpstashUrl: string;
    /** The fake OpenAI-compatible server's base URL, ending in `/v1`. */
    openaiBaseUrl: string;
    /** Targets for HTTP tools: success, failure, slow and oversized answers. */
    toolServerUrl: string;
    /** The demo MCP server's Streamable HTTP endpoint. */
    mcpServerUrl: string;
    /** Browser suite (test/browser/global-setup.ts): the Worker of its own stack, `http://127.0.0.1:<port>`. */
    browserApiUrl: string;
    /** Browser suite: the demo shop, `http://localhost:<port>` (another origin than the API). */
    browserShopUrl: string;
    /** Browser suite: its stack's database. */
    browserDatabaseUrl: string;
  }
}
