import { createHash } from "node:crypto";
import { pathToFileURL } from "node:url";
import { Redis } from "ioredis";
import { startShimServer, type RunningShim, type ShimHandler, type ShimReply, type ShimServerOptions } from "./shim-server";
import { SubscriptionRelay, type SubscribeFaults, type SubscribeKind } from "./upstash-subscribe";

export interface UpstashShimOptions extends ShimServerOptions, SubscribeFaults {
  /** redis:// URL of the Redis behind the shim; a database index in the path (redis://host:port/3) is honoured. */
  redisUrl: string;
  /** Bearer token clients must send. */
  token: string;
}

export interface RunningUpstashShim extends RunningShim {
  /** Redis connections held for `/subscribe` and `/psubscribe` streams that are still open. */
  openSubscriptions(): number;
}

/** A command as sent to Redis: upper-cased name, then string arguments. */
type Command = [name: string, ...args: string[]];

/** A reply as Upstash serialises it: strings (base64 or plain), integers, null, nested arrays. */
type EncodedReply = string | number | null | EncodedReply[];

type BatchEntry = { result: EncodedReply } | { error: string };

/** Malformed requests and refused commands: answered 400 like a Redis error. */
class ShimError extends Error {}

// These change the state of the shared connection (database, transaction, subscriber or
// protocol mode) and would leak into every other client of the shim.
const REFUSED_COMMANDS = new Set([
  "SELECT", "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH", "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE",
  "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE", "MONITOR", "QUIT", "RESET", "HELLO", "AUTH",
]);

/**
 * Serves the Upstash Redis REST protocol (`/`, `/pipeline`, `/multi-exec`, and the event
 * streams of `/subscribe/<channel>` and `/psubscribe/<pattern>`) on loopback, backed by a real
 * Redis, so the unmodified `@upstash/redis` and `@upstash/ratelimit` clients work locally.
 * Rejects when Redis cannot be reached at start.
 */
export async function startUpstashShim({
  redisUrl,
  token,
  subscribeDelayMs,
  hangUpSubscriptions,
  ...serverOptions
}: UpstashShimOptions): Promise<RunningUpstashShim> {
  if (!token) throw new Error("startUpstashShim: token must not be empty");

  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    // ioredis#1923: call/callBuffer with variadic args misbehave under auto-pipelining.
    enableAutoPipelining: false,
    // While Redis is down every request fails at once with a 503 instead of queueing,
    // and a command in flight when the connection drops is not resent (it may have run).
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 1,
  });
  // Connection errors reach clients as 503s; without a listener ioredis logs each reconnect attempt.
  let connectionError: unknown;
  redis.on("error", (error: unknown) => {
    connectionError = error;
  });
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    // connect() only reports "Connection is closed."; the socket error says why.
    const reason = connectionError ?? error;
    throw new Error(`upstash shim: cannot reach Redis at ${redisUrl}: ${messageOf(reason)}`, { cause: reason });
  }

  const scripts = new ScriptTable();
  const subscriptions = new SubscriptionRelay(redisUrl, { subscribeDelayMs, hangUpSubscriptions });

  /** Sends one command; the write happens synchronously, so calls keep their order on the connection. */
  function send(command: Command): Promise<unknown> {
    const [name, ...args] = command;
    if (REFUSED_COMMANDS.has(name)) return Promise.reject(new ShimError(`ERR Command is not available: '${name}'`));
    const prepared = scripts.rewrite(command);
    const reply = redis.callBuffer(...prepared);
    if (name === "SCRIPT" && args[0]?.toUpperCase() === "LOAD" && args[1] !== undefined) {
      // The client compares the answer with the hash it computed over the text it sent.
      const originalSha = sha1(args[1]);
      return reply.then(() => Buffer.from(originalSha));
    }
    return reply;
  }

  async function runBatch(commands: Command[], base64: boolean): Promise<BatchEntry[]> {
    const settled = await Promise.allSettled(commands.map(send));
    return settled.map((outcome) => {
      if (outcome.status === "fulfilled") return { result: encodeReply(outcome.value, base64) };
      if (!isCommandError(outcome.reason)) throw outcome.reason;
      return { error: messageOf(outcome.reason) };
    });
  }

  async function runMulti(commands: Command[]): Promise<[error: Error | null, result: unknown][]> {
    const refused = commands.find(([name]) => REFUSED_COMMANDS.has(name));
    if (refused) throw new ShimError(`ERR Command is not available in a transaction: '${refused[0]}'`);
    // ioredis writes MULTI … EXEC as one buffer on its single connection, and Redis runs EXEC
    // atomically, so concurrent transactions cannot interleave.
    const transaction = redis.multi();
    for (const command of commands) transaction.callBuffer(...scripts.rewrite(command));
    try {
      return (await transaction.exec()) ?? [];
    } catch (error) {
      if (error instanceof Error && "previousErrors" in error && Array.isArray(error.previousErrors)) {
        const causes = error.previousErrors.map(messageOf).join("; ");
        throw new ShimError(`${error.message} (${causes})`);
      }
      throw error;
    }
  }

  const handle: ShimHandler = async ({ path, headers, body }) => {
    if (headers.authorization !== `Bearer ${token}`) {
      return { status: 401, body: { error: "Unauthorized: missing or invalid bearer token" } };
    }
    const base64 = String(headers["upstash-encoding"]).toLowerCase() === "base64";
    try {
      const stream = STREAM_PATH.exec(path);
      if (stream) return await subscriptions.open(stream[1] as SubscribeKind, decodePathSegment(stream[2]!));
      if (path === "/") {
        return { status: 200, body: { result: encodeReply(await send(parseCommand(body)), base64) } };
      }
      if (path === "/pipeline") {
        return { status: 200, body: await runBatch(parseBatch(body), base64) };
      }
      if (path === "/multi-exec") {
        const results = await runMulti(parseBatch(body));
        return {
          status: 200,
          body: results.map(([error, result]) =>
            error ? { error: error.message } : { result: encodeReply(result, base64) },
          ),
        };
      }
      return { status: 404, body: { error: `unknown path ${path}` } };
    } catch (error) {
      return errorReply(error);
    }
  };

  try {
    const shim = await startShimServer(handle, serverOptions, async () => {
      subscriptions.closeAll();
      redis.disconnect();
    });
    return { ...shim, openSubscriptions: () => subscriptions.openConnections };
  } catch (error) {
    redis.disconnect();
    throw error;
  }
}

/** `/subscribe/<channel>` or `/psubscribe/<pattern>`; the client puts the name in the path unencoded. */
const STREAM_PATH = /^\/(subscribe|psubscribe)\/(.+)$/;

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ShimError(`ERR malformed channel name in the path: ${segment}`);
  }
}

/**
 * `@upstash/ratelimit` ≥ 2.1 opens every script with `#!lua flags=allow-key-locking`, an
 * Upstash-only flag that Redis 7.0 rejects. The flag is dropped (same line count, so error
 * line numbers still match) and the client's hash of the original text is mapped to the
 * hash Redis knows, so its EVALSHA hits after the first EVAL.
 */
class ScriptTable {
  private readonly loadedSha = new Map<string, string>();

  rewrite(command: Command): Command {
    const [name, first, ...rest] = command;
    if (first === undefined) return command;
    switch (name) {
      case "EVAL":
      case "EVAL_RO":
        return [name, this.prepare(first), ...rest];
      case "EVALSHA":
      case "EVALSHA_RO":
        return [name, this.resolve(first), ...rest];
      case "SCRIPT": {
        const sub = first.toUpperCase();
        if (sub === "LOAD" && rest[0] !== undefined) return [name, first, this.prepare(rest[0]), ...rest.slice(1)];
        if (sub === "EXISTS") return [name, first, ...rest.map((sha) => this.resolve(sha))];
        return command;
      }
      default:
        return command;
    }
  }

  private prepare(script: string): string {
    const stripped = stripUpstashFlags(script);
    if (stripped !== script) this.loadedSha.set(sha1(script), sha1(stripped));
    return stripped;
  }

  /** Unknown hashes pass through, so Redis still answers NOSCRIPT and the client falls back to EVAL. */
  private resolve(sha: string): string {
    return this.loadedSha.get(sha.toLowerCase()) ?? sha;
  }
}

const UPSTASH_ONLY_FLAGS = new Set(["allow-key-locking"]);

function stripUpstashFlags(script: string): string {
  const lineEnd = script.indexOf("\n");
  const firstLine = lineEnd === -1 ? script : script.slice(0, lineEnd);
  const [engine, ...options] = firstLine.trim().split(/\s+/);
  if (engine !== "#!lua") return script;
  const flagsOption = options.find((option) => option.startsWith("flags="));
  const flags = flagsOption?.slice("flags=".length).split(",") ?? [];
  const kept = flags.filter((flag) => !UPSTASH_ONLY_FLAGS.has(flag));
  if (kept.length === flags.length) return script;
  const others = options.filter((option) => option !== flagsOption);
  // Only the Upstash flag: an empty line puts Redis in compatibility mode (no shebang), as
  // `#!lua` alone would refuse EVAL_RO for lack of `no-writes`.
  const shebang =
    kept.length === 0 && others.length === 0 ? "" : [engine, ...others, ...(kept.length ? [`flags=${kept.join(",")}`] : [])].join(" ");
  return lineEnd === -1 ? shebang : shebang + script.slice(lineEnd);
}

function parseCommand(value: unknown): Command {
  if (!Array.isArray(value) || value.length === 0 || typeof value[0] !== "string") {
    throw new ShimError('ERR a command is a JSON array like ["SET","key","value"]');
  }
  const [name, ...args] = value;
  // Upper-cased so ioredis' name-keyed reply transformers (hgetall → object) never apply.
  return [name.toUpperCase(), ...args.map((arg: unknown) => (typeof arg === "string" ? arg : JSON.stringify(arg)))];
}

function parseBatch(value: unknown): Command[] {
  if (!Array.isArray(value) || value.length === 0) throw new ShimError("ERR a batch is a non-empty JSON array of commands");
  return value.map(parseCommand);
}

/** Binary-safe: Buffers become base64 (or UTF-8 without the encoding header); integers and null stay raw. */
function encodeReply(reply: unknown, base64: boolean): EncodedReply {
  if (Buffer.isBuffer(reply)) return reply.toString(base64 ? "base64" : "utf8");
  if (typeof reply === "string") return base64 ? Buffer.from(reply).toString("base64") : reply;
  if (typeof reply === "number" || reply === null) return reply;
  if (Array.isArray(reply)) return reply.map((item) => encodeReply(item, base64));
  // A Lua script may nest an error reply inside a table.
  if (reply instanceof Error) return encodeReply(reply.message, base64);
  throw new Error(`unexpected Redis reply of type ${typeof reply}`);
}

function isCommandError(error: unknown): error is Error {
  // ioredis types its ReplyError as `any`; the name is the stable marker of an answer from Redis.
  return error instanceof ShimError || (error instanceof Error && error.name === "ReplyError");
}

function errorReply(error: unknown): ShimReply {
  if (isCommandError(error)) return { status: 400, body: { error: error.message } };
  return { status: 503, body: { error: `Redis unavailable: ${messageOf(error)}` } };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sha1(text: string): string {
  return createHash("sha1").update(text, "utf8").digest("hex");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { REDIS_URL = "redis://127.0.0.1:6379", UPSTASH_SHIM_PORT = "8079", SHIM_LATENCY_MS = "0" } = process.env;
  const shim = await startUpstashShim({
    redisUrl: REDIS_URL,
    token: process.env.UPSTASH_REDIS_REST_TOKEN ?? "",
    port: Number(UPSTASH_SHIM_PORT),
    latencyMs: Number(SHIM_LATENCY_MS),
  });
  console.log(`upstash shim on ${shim.url} → ${REDIS_URL}`);
  process.once("SIGINT", () => void shim.close());
  process.once("SIGTERM", () => void shim.close());
}
