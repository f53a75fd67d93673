import pg from "pg";
import type { TestProject } from "vitest/node";
export default async function setup(project: TestProject) {
  const admin = new pg.Client({ connectionString: "postgres://postgres:postgres@127.0.0.1:5432/postgres" });
  await admin.connect();
  const { rowCount } = await admin.query("select 1 from pg_database where datname = 'parley_shimtest'");
  if (!rowCount) await admin.query("create database parley_shimtest");
  await admin.end();
  project.provide("databaseUrl", "postgres://postgres:postgres@127.0.0.1:5432/parley_shimtest");
}
