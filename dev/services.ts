import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { connect, createServer, type AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import pg from "pg";

/** A PostgreSQL or Redis that the stack uses, and how it came to be. */
export interface Service {
  url: string;
  /** `env`: from DATABASE_URL / REDIS_URL; `running`: found on its default port; `private`: started by us. */
  source: "env" | "running" | "private";
  /** Stops it if we started it; otherwise does nothing. */
  stop(): Promise<void>;
}

export interface ServiceOptions {
  /** Folder for private instances' data (git-ignored). */
  stateDir: string;
  /** Prefix for log lines. */
  log?: (line: string) => void;
}

const DEFAULT_PG_URL = "postgres://postgres:postgres@127.0.0.1:5432/postgres";
const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/** Finds or starts a PostgreSQL: DATABASE_URL, then 127.0.0.1:5432, then a private cluster. */
export async function ensurePostgres({ stateDir, log = () => {} }: ServiceOptions): Promise<Service> {
  const fromEnv = process.env.DATABASE_URL;
  if (fromEnv) return { url: fromEnv, source: "env", stop: async () => {} };
  if (await canQueryPostgres(DEFAULT_PG_URL)) return { url: DEFAULT_PG_URL, source: "running", stop: async () => {} };

  const bin = findPostgresBinDir();
  if (!bin) {
    throw new Error(
      "PostgreSQL is not running on 127.0.0.1:5432 and is not installed. Install it (Debian: `apt-get install postgresql`) or set DATABASE_URL.",
    );
  }
  const dataDir = resolve(stateDir, "postgres");
  // PostgreSQL refuses to run as root: as root, the cluster and its processes belong to the
  // postgres user. Spawning with its uid (not through runuser) lets signals reach the server.
  const owner = process.getuid?.() === 0 ? postgresUser() : undefined;
  if (!existsSync(join(dataDir, "PG_VERSION"))) {
    rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir, { recursive: true });
    if (owner) {
      chmodSync(stateDir, 0o755);
      chownSync(dataDir, owner.uid, owner.gid);
    }
    log(`initialising a private PostgreSQL cluster in ${dataDir}`);
    run([join(bin, "initdb"), "--no-sync", "--auth=trust", "-U", "postgres", "-D", dataDir], owner);
  }
  const port = await freePort();
  const child = spawnDaemon(
    [
      join(bin, "postgres"),
      "-D", dataDir,
      "-p", String(port),
      "-k", dataDir,
      "-c", "listen_addresses=127.0.0.1",
      "-c", "fsync=off",
      "-c", "synchronous_commit=off",
      "-c", "full_page_writes=off",
    ],
    log,
    "postgres",
    owner,
  );
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  await waitFor(() => canQueryPostgres(url), 20_000, "the private PostgreSQL to accept connections", child);
  log(`started a private PostgreSQL on port ${port}`);
  return { url, source: "private", stop: () => stopChild(child, "SIGINT") };
}

/** Finds or starts a Redis: REDIS_URL, then 127.0.0.1:6379, then a private redis-server. */
export async function ensureRedis({ stateDir, log = () => {} }: ServiceOptions): Promise<Service> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) return { url: fromEnv, source: "env", stop: async () => {} };
  if (await isListening(6379)) return { url: DEFAULT_REDIS_URL, source: "running", stop: async () => {} };

  if (spawnSync("redis-server", ["--version"]).error) {
    throw new Error(
      "Redis is not running on 127.0.0.1:6379 and redis-server is not installed. Install it (Debian: `apt-get install redis-server`) or set REDIS_URL.",
    );
  }
  const dir = resolve(stateDir, "redis");
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const child = spawnDaemon(
    ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    log,
    "redis",
  );
  await waitFor(() => isListening(port), 10_000, "the private Redis to listen", child);
  log(`started a private Redis on port ${port}`);
  return { url: `redis://127.0.0.1:${port}`, source: "private", stop: () => stopChild(child, "SIGTERM") };
}

/** The same server as `url`, database `name`. */
export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Creates database `name` on the server of `adminUrl` unless it exists. */
export async function createDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (!rowCount) await client.query(`create database "${name.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name.replaceAll('"', '""')}" with (force)`);
  } finally {
    await client.end();
  }
}

async function canQueryPostgres(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** True when something accepts TCP connections on 127.0.0.1:`port` (within 500 ms). */
export function isListening(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: "127.0.0.1", port, timeout: 500 });
    socket.once("connect", () => (socket.destroy(), done(true)));
    socket.once("error", () => done(false));
    socket.once("timeout", () => (socket.destroy(), done(false)));
  });
}

/** A port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => done(port));
    });
  });
}

function findPostgresBinDir(): string | undefined {
  const fromPgConfig = spawnSync("pg_config", ["--bindir"], { encoding: "utf8" });
  const candidates = [fromPgConfig.status === 0 ? fromPgConfig.stdout.trim() : ""];
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    for (const version of readdirSync(root).sort().reverse()) candidates.push(join(root, version, "bin"));
  }
  return candidates.find((dir) => dir && existsSync(join(dir, "initdb")) && existsSync(join(dir, "postgres")));
}

interface UserIds {
  uid: number;
  gid: number;
}

function postgresUser(): UserIds {
  const uid = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
  if (uid.status !== 0) throw new Error("running as root but there is no `postgres` user to own the private cluster");
  return { uid: Number(uid.stdout), gid: Number(gid.stdout) };
}

function run(argv: string[], owner?: UserIds): void {
  const [command, ...args] = argv as [string, ...string[]];
  const result = spawnSync(command, args, { encoding: "utf8", ...owner });
  if (result.status !== 0) {
    throw new Error(`${argv.join(" ")} failed:\n${result.stderr || result.stdout || result.error?.message}`);
  }
}

function spawnDaemon(argv: string[], log: (line: string) => void, name: string, owner?: UserIds): ChildProcess {
  const [command, ...args] = argv as [string, ...string[]];
  const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"], ...owner });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  child.once("exit", (code, signal) => {
    if (code !== 0 && signal === null) log(`${name} exited with code ${code}: ${stderr.trim()}`);
  });
  return child;
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

async function waitFor(
  ready: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
  child: ChildProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gave up waiting for ${what}: the process exited with ${child.exitCode}`);
    if (await ready()) return;
    await new Promise((done) => setTimeout(done, 100));
  }
  await stopChild(child, "SIGKILL");
  throw new Error(`gave up waiting for ${what} after ${timeoutMs} ms`);
}
