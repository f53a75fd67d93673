import { neon, neonConfig } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-http";
import type { Config } from "../config";
import * as schema from "./schema";

export type Database = ReturnType<typeof createDb>;

/** A Drizzle client over Neon's HTTP driver; made per request (Workers forbid sharing I/O objects). */
export function createDb(config: Pick<Config, "databaseUrl" | "neonLocalEndpoint">) {
  const endpoint = config.neonLocalEndpoint;
  // The driver only has a process-wide endpoint setting. It is set only where the local shim is
  // configured, which holds for every request of that deployment.
  if (endpoint) neonConfig.fetchEndpoint = () => endpoint;
  return drizzle({ client: neon(config.databaseUrl), schema });
}
