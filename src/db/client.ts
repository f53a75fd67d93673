import { neon, neonConfig } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-http";
import type { Config } from "../config";
import { storeDeadline, storeLiveness } from "../store-deadline";
import * as schema from "./schema";

export type Database = ReturnType<typeof createDb>;

/**
 * Longest one Neon HTTP request may go unanswered, in ms, before it counts as Postgres being
 * unavailable (503): a hung endpoint must become a fast, clear answer, not a request that never
 * ends. Counted from the later of the request's start and Neon's last answer to this isolate
 * (`storeDeadline`): an isolate that is only behind on reading answers is not told Postgres is down.
 */
export const DATABASE_REQUEST_TIMEOUT_MS = 2_500;

/**
 * Clients by connection string and endpoint, one per isolate: Neon's HTTP driver holds no I/O
 * object (every query is its own `fetch`), so a client can serve every request, and Drizzle's
 * per-client set-up (the schema's relational config) runs once, not per request (README
 * "Performance").
 */
const clients = new Map<string, ReturnType<typeof newDb>>();

/** A Drizzle client over Neon's HTTP driver. */
export function createDb(config: Pick<Config, "databaseUrl" | "neonLocalEndpoint">) {
  const endpoint = config.neonLocalEndpoint;
  // The driver only has process-wide endpoint and fetch settings. The endpoint is set only where
  // the local shim is configured, which holds for every request of that deployment; the fetch is
  // the same everywhere.
  if (endpoint) neonConfig.fetchEndpoint = () => endpoint;
  neonConfig.fetchFunction = fetchWithTimeout;
  const key = `${config.databaseUrl}\n${endpoint ?? ""}`;
  let db = clients.get(key);
  if (!db) clients.set(key, (db = newDb(config.databaseUrl)));
  return db;
}

function newDb(databaseUrl: string) {
  return drizzle({ client: neon(databaseUrl), schema });
}

/**
 * `fetch` bounded by a {@link storeDeadline} of {@link DATABASE_REQUEST_TIMEOUT_MS}, body
 * included: the answer (small JSON) is read within the deadline, so a timeout always surfaces
 * inside the driver's own request — as its `NeonDbError` with a `sourceError` — and never later,
 * while the driver reads the body. Every answer tells the deadlines of the isolate's other
 * requests that Neon is up.
 */
async function fetchWithTimeout(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
  const deadline = storeDeadline(storeLiveness.postgres, DATABASE_REQUEST_TIMEOUT_MS);
  try {
    const res = await fetch(input, { ...init, signal: init.signal ? AbortSignal.any([init.signal, deadline.signal]) : deadline.signal });
    const body = await res.arrayBuffer();
    storeLiveness.postgres.answered();
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  } finally {
    deadline.clear();
  }
}
