import { spawn, type ChildProcess } from "node:child_process";

export interface WranglerDevOptions {
  /** The project folder (where wrangler.toml is). */
  root: string;
  /** Port on 127.0.0.1 the Worker listens on. */
  port: number;
  /**
   * Bindings passed as `--var NAME:VALUE`; they win over wrangler.toml and `.dev.vars`.
   * This is also how optional names reach the Worker: with a `[secrets] required` list,
   * wrangler dev takes from `.dev.vars` only the names in that list or in `[vars]`.
   */
  vars: Record<string, string>;
}

export interface WranglerDev {
  child: ChildProcess;
  /** Resolves once `GET /readyz` answers 2xx; rejects if wrangler exits first or after `timeoutMs`. */
  ready(timeoutMs?: number): Promise<void>;
  /** Stops wrangler and workerd (its whole process group); safe to call more than once. */
  stop(): Promise<void>;
}

/** Starts `wrangler dev` on 127.0.0.1 without telemetry or the interactive session. */
export function startWranglerDev({ root, port, vars }: WranglerDevOptions): WranglerDev {
  // --test-scheduled: `GET /__scheduled` runs the Cron Trigger handler (the idle sweep) on demand.
  const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--show-interactive-dev-session=false", "--test-scheduled"];
  for (const [key, value] of Object.entries(vars)) args.push("--var", `${key}:${value}`);
  // Its own process group: wrangler ignores SIGTERM to its own pid, so the group is signalled.
  const child = spawn("wrangler", args, {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
    detached: true,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  });
  return { child, ready: (timeoutMs) => waitUntilReady(child, port, timeoutMs), stop: () => stopGroup(child) };
}

async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      // The group is already gone.
    }
  };
  signal("SIGTERM");
  const timer = setTimeout(() => signal("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
  signal("SIGKILL");
}

async function waitUntilReady(child: ChildProcess, port: number, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error("wrangler dev exited before it was ready");
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((done) => setTimeout(done, 250));
  }
  throw new Error(`wrangler dev did not answer /readyz within ${timeoutMs / 1000} s on port ${port}`);
}
