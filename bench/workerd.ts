/**
 * The Worker in one workerd process, as the targets assume ("one local workerd"), run by
 * Miniflare: the runtime `wrangler dev` runs inside, without what `wrangler dev` puts around it on
 * this machine — a second workerd proxying every request and response, and wrangler's own Node
 * process. Deployments have neither, and on two cores both take CPU from the Worker (README
 * "Performance").
 */
import { readdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { unstable_readConfig } from "wrangler";
import { readProcStat } from "./cpu";

export interface WorkerdOptions {
  /** The project folder (where wrangler.toml is): its compatibility date, flags and `[vars]`. */
  root: string;
  /** The bundle `wrangler deploy --dry-run --outdir` wrote (an ES module). */
  builtScript: string;
  /** Port on 127.0.0.1 the Worker listens on. */
  port: number;
  /** Port of workerd's own V8 inspector (Chrome DevTools Protocol), for `--profile`. */
  inspectorPort: number;
  /** Bindings on top of wrangler.toml's `[vars]`. */
  vars: Record<string, string>;
  /** Where the Worker's console lines go; unset, they are dropped. */
  log?: (line: string) => void;
}

export interface Workerd {
  url: string;
  /**
   * The workerd process running the Worker, whose CPU the benchmark reads: Miniflare's own entry
   * and outbound workers run in it too, on the same thread, as they do under `wrangler dev`.
   */
  pid: number;
  stop(): Promise<void>;
}

export async function startWorkerd({ root, builtScript, port, inspectorPort, vars, log }: WorkerdOptions): Promise<Workerd> {
  // Only what the Worker reads from wrangler.toml; no static assets (the widget script), which a
  // deployment serves before the Worker runs.
  const config = unstable_readConfig({ config: resolve(root, "wrangler.toml") });
  const options = convertV4MiniflareOptions({
    workers: [
      {
        name: config.name,
        modules: true,
        scriptPath: builtScript,
        modulesRoot: dirname(builtScript),
        compatibilityDate: config.compatibility_date,
        compatibilityFlags: config.compatibility_flags,
        bindings: { ...(config.vars as Record<string, string>), ...vars },
      },
    ],
    host: "127.0.0.1",
    port,
    inspectorPort,
    handleStructuredLogs: ({ message }) => log?.(message),
  });
  const miniflare = new Miniflare({ ...options, telemetry: { enabled: false }, enableDevRegistry: false });
  const url = (await miniflare.ready).origin;
  const pid = childWorkerd(process.pid);
  if (pid === undefined) {
    await miniflare.dispose();
    throw new Error("Miniflare is ready but no workerd child process was found");
  }
  return { url, pid, stop: () => miniflare.dispose() };
}

/** The workerd that Miniflare spawned as a child of `parent`. */
function childWorkerd(parent: number): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const { comm, ppid } = readProcStat(entry);
      if (comm === "workerd" && ppid === parent) return Number(entry);
    } catch {
      // Exited while we looked.
    }
  }
  return undefined;
}
