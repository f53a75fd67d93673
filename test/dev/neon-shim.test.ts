import { randomBytes } from "node:crypto";
import { neon, neonConfig, NeonDbError } from "@neondatabase/serverless";
import { eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/neon-http";
import { bigint, jsonb, pgSchema, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startNeonShim } from "../../dev/neon-shim";
import type { RunningShim } from "../../dev/shim-server";

const databaseUrl = inject("databaseUrl");
const schemaName = `neon_shim_${randomBytes(4).toString("hex")}`;
const schema = pgSchema(schemaName);

const items = schema.table("items", {
  id: uuid("id").primaryKey().defaultRandom(),
  data: jsonb("data").$type<{ nested: { list: number[] }; quote: string }>().notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull(),
  counter: bigint("counter", { mode: "bigint" }).notNull(),
  tags: text("tags").array().notNull(),
});

const accounts = schema.table("accounts", {
  id: uuid("id").primaryKey().defaultRandom(),
  email: text("email").notNull().unique("accounts_email_unique"),
});

let shim: RunningShim;
let previousEndpoint: typeof neonConfig.fetchEndpoint;
const sqlClient = neon(databaseUrl);
const db = drizzle({ client: neon(databaseUrl) });

/** Posts one protocol request to the shim directly, to see the wire format. */
async function post(base: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}/sql`, {
    method: "POST",
    headers: { "content-type": "application/json", "Neon-Connection-String": databaseUrl, ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the promise to reject");
}

beforeAll(async () => {
  shim = await startNeonShim();
  previousEndpoint = neonConfig.fetchEndpoint;
  neonConfig.fetchEndpoint = `${shim.url}/sql`;
  await sqlClient.query(`CREATE SCHEMA ${schemaName}`);
  await sqlClient.query(`CREATE TABLE ${schemaName}.items (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(), data jsonb NOT NULL,
    created_at timestamptz NOT NULL, counter int8 NOT NULL, tags text[] NOT NULL)`);
  await sqlClient.query(`CREATE TABLE ${schemaName}.accounts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text NOT NULL CONSTRAINT accounts_email_unique UNIQUE)`);
});

afterAll(async () => {
  await sqlClient.query(`DROP SCHEMA IF EXISTS ${schemaName} CASCADE`);
  neonConfig.fetchEndpoint = previousEndpoint;
  await shim.close();
});

describe("neon shim with drizzle-orm/neon-http", () => {
  it("round-trips uuid, jsonb, timestamptz, int8 and text[]", async () => {
    const createdAt = new Date("2026-11-24T10:11:12.345Z");
    const value = {
      data: { nested: { list: [1, 2, 3] }, quote: 'say "hi", {ok}' },
      createdAt,
      counter: 9_007_199_254_740_993n,
      tags: ["plain", "with,comma", 'with "quote"', "{braces}"],
    };
    const [inserted] = await db.insert(items).values(value).returning();
    expect(inserted?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    const [row] = await db.select().from(items).where(eq(items.id, inserted?.id ?? ""));
    expect(row).toEqual({ id: inserted?.id, ...value });
    expect(row?.createdAt).toBeInstanceOf(Date);
  });

  it("passes parameters of sql tagged templates", async () => {
    const result = await db.execute<{ sum: number; label: string; missing: string | null }>(
      sql`SELECT ${2}::int + ${3}::int AS sum, ${"it's"}::text AS label, ${null}::text AS missing`,
    );
    expect(result.rows).toEqual([{ sum: 5, label: "it's", missing: null }]);
  });

  it("commits a batch as one unit", async () => {
    const [first, second] = await db.batch([
      db.insert(accounts).values({ email: `a-${randomBytes(4).toString("hex")}@x.test` }).returning(),
      db.select({ n: sql<number>`count(*)::int` }).from(accounts),
    ]);
    expect(first).toHaveLength(1);
    expect(second[0]?.n).toBeGreaterThanOrEqual(1);
  });

  it("rolls back the whole batch when a later statement fails", async () => {
    const email = `b-${randomBytes(4).toString("hex")}@x.test`;
    const kept = `c-${randomBytes(4).toString("hex")}@x.test`;
    await db.insert(accounts).values({ email: kept });

    const error = await rejection(
      db.batch([db.insert(accounts).values({ email }), db.insert(accounts).values({ email: kept })]),
    );
    expect(error).toBeInstanceOf(NeonDbError);
    expect(await db.select().from(accounts).where(eq(accounts.email, email))).toEqual([]);
  });

  it("raises NeonDbError with PostgreSQL's fields on a unique violation", async () => {
    const email = `d-${randomBytes(4).toString("hex")}@x.test`;
    await db.insert(accounts).values({ email });
    const error = await rejection(db.insert(accounts).values({ email }));
    const cause = error instanceof Error && error.cause ? error.cause : error;
    expect(cause).toBeInstanceOf(NeonDbError);
    expect(cause).toMatchObject({
      code: "23505",
      severity: "ERROR",
      constraint: "accounts_email_unique",
      schema: schemaName,
      table: "accounts",
      detail: `Key (email)=(${email}) already exists.`,
    });
  });
});

describe("neon shim with neon()", () => {
  it("refuses two statements in one query with 42601, as Neon does", async () => {
    const error = await rejection(sqlClient.query("SELECT 1; SELECT 2"));
    expect(error).toBeInstanceOf(NeonDbError);
    expect(error).toMatchObject({ code: "42601" });
  });

  it("returns arrays in array mode and objects otherwise", async () => {
    const query = "SELECT 1 AS a, 'x' AS b, NULL::int AS c";
    expect(await neon(databaseUrl, { arrayMode: true }).query(query)).toEqual([[1, "x", null]]);
    expect(await sqlClient.query(query)).toEqual([{ a: 1, b: "x", c: null }]);
  });

  it("honours the batch isolation level, read-only and deferrable headers", async () => {
    const [isolation, readOnly, deferrable] = await sqlClient.transaction(
      [
        sqlClient`SHOW transaction_isolation`,
        sqlClient`SHOW transaction_read_only`,
        sqlClient`SHOW transaction_deferrable`,
      ],
      { isolationLevel: "Serializable", readOnly: true, deferrable: true },
    );
    expect([isolation, readOnly, deferrable]).toEqual([
      [{ transaction_isolation: "serializable" }],
      [{ transaction_read_only: "on" }],
      [{ transaction_deferrable: "on" }],
    ]);

    const error = await rejection(
      sqlClient.transaction([sqlClient`INSERT INTO ${sqlClient.unsafe(`${schemaName}.accounts`)} (email) VALUES ('ro@x.test')`], {
        readOnly: true,
      }),
    );
    expect(error).toMatchObject({ code: "25006" });
  });

  it("answers 5xx when PostgreSQL cannot be reached", async () => {
    const error = await rejection(neon("postgres://postgres@127.0.0.1:1/nowhere").query("SELECT 1"));
    expect(error).toBeInstanceOf(NeonDbError);
    expect((error as Error).message).toMatch(/^Server error \(HTTP status 502\)/);
  });
});

describe("neon shim wire format and server", () => {
  it("sends raw text rows with field metadata", async () => {
    const body = { query: "SELECT $1::int8 AS big, now() AS at, NULL::text AS n", params: ["12345678901234567"] };
    const arrays = await post(shim.url, body, { "Neon-Array-Mode": "true", "Neon-Raw-Text-Output": "true" });
    expect(arrays.status).toBe(200);
    expect(arrays.body).toMatchObject({ command: "SELECT", rowCount: 1, rowAsArray: true });
    expect(arrays.body.fields).toEqual([
      expect.objectContaining({ name: "big", dataTypeID: 20, format: "text" }),
      expect.objectContaining({ name: "at", dataTypeID: 1184 }),
      expect.objectContaining({ name: "n", dataTypeID: 25 }),
    ]);
    expect(arrays.body.rows).toEqual([["12345678901234567", expect.stringMatching(/^\d{4}-\d\d-\d\d /), null]]);

    const objects = await post(shim.url, body);
    expect(objects.body).toMatchObject({ rowAsArray: false, rows: [{ big: "12345678901234567", n: null }] });
  });

  it("rejects a request without Neon-Connection-String with 400", async () => {
    const response = await fetch(`${shim.url}/sql`, { method: "POST", body: JSON.stringify({ query: "SELECT 1" }) });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ message: expect.stringContaining("Neon-Connection-String") });
  });

  it("answers /healthz", async () => {
    const response = await fetch(`${shim.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
  });

  it("counts requests at /__stats", async () => {
    shim.resetStats();
    await sqlClient.query("SELECT 1");
    await sqlClient.transaction([sqlClient`SELECT 1`, sqlClient`SELECT 2`]);
    const stats = (await (await fetch(`${shim.url}/__stats`)).json()) as unknown;
    expect(stats).toEqual({ requests: 2, byPath: { "/sql": 2 } });
  });

  it("adds the configured latency to every request", async () => {
    const latencyMs = 120;
    const slow = await startNeonShim({ latencyMs });
    try {
      const started = performance.now();
      const reply = await post(slow.url, { query: "SELECT 1", params: [] });
      expect(reply.status).toBe(200);
      expect(performance.now() - started).toBeGreaterThanOrEqual(latencyMs);
    } finally {
      await slow.close();
    }
  });
});
