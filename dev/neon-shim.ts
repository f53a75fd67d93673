import { DatabaseError, Pool, type PoolClient, type QueryArrayConfig, type QueryArrayResult } from "pg";
import { startShimServer, type RunningShim, type ShimHandler, type ShimReply, type ShimServerOptions } from "./shim-server";

export interface NeonShimOptions extends ShimServerOptions {}

interface NeonQuery {
  query: string;
  params: unknown[];
}

type TextRow = (string | null)[];

/** One result as Neon's `/sql` answers it; values stay raw text, the driver parses them by OID. */
interface NeonResult {
  fields: {
    name: string;
    dataTypeID: number;
    tableID: number;
    columnID: number;
    dataTypeSize: number;
    dataTypeModifier: number;
    format: string;
  }[];
  rows: TextRow[] | Record<string, string | null>[];
  command: string;
  rowCount: number | null;
  rowAsArray: boolean;
}

/** Malformed requests: answered 400 `{message}`, which the driver raises as `NeonDbError`. */
class ShimRequestError extends Error {}

/** The backend could not be reached: answered 502. */
class ShimConnectError extends Error {}

const POOL_SIZE = 10;

/** Every OID comes back as the text PostgreSQL sent: parsing is the driver's job. */
const RAW_TEXT_TYPES = { getTypeParser: () => (value: string) => value };

const ISOLATION_LEVELS: Record<string, string> = {
  ReadUncommitted: "READ UNCOMMITTED",
  ReadCommitted: "READ COMMITTED",
  RepeatableRead: "REPEATABLE READ",
  Serializable: "SERIALIZABLE",
};

/** The fields the driver copies from a 400 body onto `NeonDbError`. */
const ERROR_FIELDS = [
  "severity", "code", "detail", "hint", "position", "internalPosition", "internalQuery", "where",
  "schema", "table", "column", "dataType", "constraint", "file", "line", "routine",
] as const satisfies readonly (keyof DatabaseError)[];

/**
 * Serves Neon's HTTP `POST /sql` protocol on loopback, backed by a real PostgreSQL, so the
 * unmodified `neon()` driver and `drizzle-orm/neon-http` work locally. As on Neon, the
 * `Neon-Connection-String` header picks the database; one pool is kept per database.
 * Point the driver at it with `neonConfig.fetchEndpoint = `${shim.url}/sql``.
 */
export async function startNeonShim(options: NeonShimOptions = {}): Promise<RunningShim> {
  const pools = new Map<string, Pool>();

  function poolFor(connectionString: string): Pool {
    const key = normaliseConnectionString(connectionString);
    let pool = pools.get(key);
    if (!pool) {
      pool = new Pool({ connectionString: key, max: POOL_SIZE, application_name: "parley-neon-shim", types: RAW_TEXT_TYPES });
      // An idle connection whose backend went away (database dropped, server restarted) is
      // discarded by the pool; without a listener the 'error' event would crash the process.
      pool.on("error", () => {});
      pools.set(key, pool);
    }
    return pool;
  }

  const handle: ShimHandler = async ({ path, headers, body }) => {
    if (path !== "/sql") return { status: 404, body: { message: `neon shim: no route ${path}, only POST /sql` } };
    try {
      const connectionString = header(headers, "neon-connection-string");
      if (!connectionString) throw new ShimRequestError("neon shim: missing Neon-Connection-String header");
      const pool = poolFor(connectionString);
      const arrayMode = header(headers, "neon-array-mode") === "true";

      if (isRecord(body) && "queries" in body) {
        if (!Array.isArray(body.queries)) throw new ShimRequestError("neon shim: queries must be an array");
        const queries = body.queries.map(parseQuery);
        const begin = beginStatement(headers);
        const results = await withClient(pool, (client) => runBatch(client, begin, queries));
        return { status: 200, body: { results: results.map((result) => toNeonResult(result, arrayMode)) } };
      }
      const query = parseQuery(body);
      const result = await withClient(pool, (client) => runQuery(client, query));
      return { status: 200, body: toNeonResult(result, arrayMode) };
    } catch (error) {
      return errorReply(error);
    }
  };

  return startShimServer(handle, options, async () => {
    const all = [...pools.values()];
    pools.clear();
    await Promise.all(all.map((pool) => pool.end()));
  });
}

/** The driver appends its own `application_name`; pools are keyed without it. */
function normaliseConnectionString(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ShimRequestError("neon shim: Neon-Connection-String is not a URL");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new ShimRequestError("neon shim: Neon-Connection-String must be a postgres:// URL");
  }
  url.searchParams.delete("application_name");
  return url.toString();
}

function beginStatement(headers: Record<string, string | string[] | undefined>): string {
  const modes: string[] = [];
  const isolation = header(headers, "neon-batch-isolation-level");
  if (isolation !== undefined) {
    const level = ISOLATION_LEVELS[isolation];
    if (!level) throw new ShimRequestError(`neon shim: unknown Neon-Batch-Isolation-Level ${isolation}`);
    modes.push(`ISOLATION LEVEL ${level}`);
  }
  const readOnly = booleanHeader(headers, "neon-batch-read-only");
  if (readOnly !== undefined) modes.push(readOnly ? "READ ONLY" : "READ WRITE");
  const deferrable = booleanHeader(headers, "neon-batch-deferrable");
  if (deferrable !== undefined) modes.push(deferrable ? "DEFERRABLE" : "NOT DEFERRABLE");
  return ["BEGIN", ...modes].join(" ");
}

async function withClient<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw new ShimConnectError(`neon shim: cannot connect to PostgreSQL: ${messageOf(error)}`, { cause: error });
  }
  let broken: Error | undefined;
  try {
    return await work(client);
  } catch (error) {
    // A DatabaseError leaves the session usable; anything else may have broken the connection.
    if (!(error instanceof DatabaseError)) broken = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.release(broken);
  }
}

async function runBatch(client: PoolClient, begin: string, queries: NeonQuery[]): Promise<QueryArrayResult<TextRow>[]> {
  await client.query(begin);
  try {
    const results: QueryArrayResult<TextRow>[] = [];
    for (const query of queries) results.push(await runQuery(client, query));
    await client.query("COMMIT");
    return results;
  } catch (error) {
    // The statement's error is the one to report; a failed ROLLBACK means a dead connection,
    // which the pool drops on release.
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
}

function runQuery(client: PoolClient, { query, params }: NeonQuery): Promise<QueryArrayResult<TextRow>> {
  // pg sends a parameterless query over the simple protocol, which accepts several statements;
  // Neon always uses the extended protocol (one statement, else 42601). `queryMode` is a pg
  // option @types/pg does not declare, hence the variable instead of an object literal.
  const config: QueryArrayConfig<unknown[]> & { queryMode: "extended" } = {
    text: query,
    values: params,
    rowMode: "array",
    queryMode: "extended",
  };
  return client.query<TextRow, unknown[]>(config);
}

function toNeonResult(result: QueryArrayResult<TextRow>, arrayMode: boolean): NeonResult {
  const fields = result.fields.map(({ name, dataTypeID, tableID, columnID, dataTypeSize, dataTypeModifier, format }) => ({
    name, dataTypeID, tableID, columnID, dataTypeSize, dataTypeModifier, format,
  }));
  const rows = arrayMode
    ? result.rows
    : result.rows.map((row) => Object.fromEntries(fields.map((field, i) => [field.name, row[i] ?? null])));
  return { fields, rows, command: result.command, rowCount: result.rowCount, rowAsArray: arrayMode };
}

function errorReply(error: unknown): ShimReply {
  if (error instanceof ShimRequestError) return { status: 400, body: { message: error.message } };
  if (error instanceof DatabaseError) {
    const body: Record<string, unknown> = { message: error.message };
    for (const field of ERROR_FIELDS) body[field] = error[field];
    return { status: 400, body };
  }
  return { status: 502, body: { message: error instanceof ShimConnectError ? error.message : `neon shim: ${messageOf(error)}` } };
}

function parseQuery(value: unknown): NeonQuery {
  if (!isRecord(value) || typeof value.query !== "string") {
    throw new ShimRequestError("neon shim: expected a body {query, params} or {queries: [...]}");
  }
  const params = value.params ?? [];
  if (!Array.isArray(params)) throw new ShimRequestError("neon shim: params must be an array");
  return { query: value.query, params };
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function booleanHeader(headers: Record<string, string | string[] | undefined>, name: string): boolean | undefined {
  const value = header(headers, name);
  if (value === undefined) return undefined;
  if (value !== "true" && value !== "false") throw new ShimRequestError(`neon shim: ${name} must be true or false`);
  return value === "true";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function messageOf(error: unknown): string {
  // Node reports a refused connection to a host with several addresses as an AggregateError
  // with an empty message.
  if (error instanceof AggregateError && !error.message) return error.errors.map(messageOf).join("; ");
  return error instanceof Error ? error.message : String(error);
}
