/**
 * A CPU profile of the Worker through workerd's V8 inspector (Chrome DevTools Protocol, on the
 * port bench/workerd.ts gives it), summarised as self time per function and per module. Modules
 * are read from the bundle wrangler builds: esbuild heads each bundled file with a
 * `// path/to/file.js` comment, so a line number says which file a function came from.
 */

/** The parts of a `Profiler.Profile` the summary reads. */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number; scriptId: string }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
  /** Bundle sources by script id, added by {@link startCpuProfile}. */
  sources?: Record<string, string>;
  /** Script URLs by script id, added by {@link startCpuProfile}. */
  urls?: Record<string, string>;
}

export interface ProfileRecorder {
  stop(): Promise<CpuProfile>;
}

/** Sampling interval, in µs: fine enough for per-token work of well under a millisecond. */
const SAMPLING_INTERVAL_US = 200;

/**
 * Starts profiling the Worker behind `inspectorPort`: Miniflare's workerd lists its own workers
 * there too (`core:entry`, `outbound:0`, …); the user's is `core:user:<name>`.
 */
export async function startCpuProfile(inspectorPort: number): Promise<ProfileRecorder> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as { id: string; webSocketDebuggerUrl: string }[];
  const target = targets.find((candidate) => candidate.id.startsWith("core:user:"));
  if (!target) throw new Error(`no inspectable user Worker on port ${inspectorPort} (${targets.map((t) => t.id).join(", ")})`);
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise<void>((done, fail) => {
    socket.addEventListener("open", () => done(), { once: true });
    socket.addEventListener("error", () => fail(new Error("cannot open the inspector WebSocket")), { once: true });
  });
  let nextId = 1;
  const pending = new Map<number, (result: unknown) => void>();
  const scripts = new Map<string, string>();
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; method?: string; result?: unknown; params?: { scriptId: string; url: string } };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
    else if (message.method === "Debugger.scriptParsed" && message.params) scripts.set(message.params.scriptId, message.params.url);
  });
  const send = <T>(method: string, params: object = {}) =>
    new Promise<T>((done) => {
      const id = nextId++;
      pending.set(id, (result) => done(result as T));
      socket.send(JSON.stringify({ id, method, params }));
    });

  // The debugger only to learn the scripts (and read the bundle's file comments): no breakpoints.
  await send("Debugger.enable");
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: SAMPLING_INTERVAL_US });
  await send("Profiler.start");
  return {
    async stop() {
      const { profile } = await send<{ profile: CpuProfile }>("Profiler.stop");
      const sources: Record<string, string> = {};
      const used = new Set(profile.nodes.map((node) => node.callFrame.scriptId));
      for (const scriptId of used) {
        if (!scripts.get(scriptId)) continue;
        const { scriptSource } = await send<{ scriptSource: string }>("Debugger.getScriptSource", { scriptId });
        sources[scriptId] = scriptSource;
      }
      await send("Debugger.disable");
      socket.close();
      return { ...profile, sources, urls: Object.fromEntries(scripts) };
    },
  };
}

/**
 * Most time one sample stands for, in µs. A sample's time delta is the time since the previous
 * one; on a loaded machine the sampler or the Worker's thread is often descheduled, and the next
 * sample then carries the whole gap (seen: one sample of 1.4 s in a trivial function, and half a
 * run's time in samples of over 2 ms). Capped, a sample counts what the thread could have run.
 */
const MAX_SAMPLE_US = 2 * SAMPLING_INTERVAL_US;

/** V8's pseudo frames: time not spent running a JavaScript function. */
const PSEUDO_FRAMES = new Set(["(program)", "(idle)", "(garbage collector)", "(root)"]);

/**
 * Top self-time functions and modules, as text lines. Time in the runtime's own code (streams,
 * `fetch`, timers: frames without a script) is charged to the nearest JavaScript caller, so
 * "which library keeps the streams busy" shows; V8's pseudo frames stay on their own.
 */
export function summariseProfile(profile: CpuProfile, top = 20): string {
  const selfUs = new Map<number, number>();
  let gapsUs = 0;
  profile.samples.forEach((nodeId, i) => {
    const deltaUs = profile.timeDeltas[i] ?? 0;
    gapsUs += Math.max(0, deltaUs - MAX_SAMPLE_US);
    selfUs.set(nodeId, (selfUs.get(nodeId) ?? 0) + Math.min(deltaUs, MAX_SAMPLE_US));
  });
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const moduleOf = moduleResolver(profile.sources ?? {}, profile.urls ?? {});
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const isScript = (id: number) => {
    const frame = nodes.get(id)?.callFrame;
    return frame !== undefined && frame.scriptId !== "0" && frame.url !== "";
  };
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0) continue;
    let owner = node;
    if (!PSEUDO_FRAMES.has(node.callFrame.functionName)) {
      let id: number | undefined = node.id;
      while (id !== undefined && !isScript(id)) id = parentOf.get(id);
      if (id !== undefined) owner = nodes.get(id)!;
    }
    const { functionName, scriptId, lineNumber } = owner.callFrame;
    const native = owner === node ? "" : ` ← ${node.callFrame.functionName || "(native)"}`;
    const module = isScript(owner.id) ? moduleOf(scriptId, lineNumber) : "(runtime)";
    const name = `${functionName || "(anonymous)"}  ${module}:${lineNumber + 1}${native}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    byModule.set(module, (byModule.get(module) ?? 0) + us);
  }
  const lines = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => `  ${(us / 1000).toFixed(1).padStart(8)} ms  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${name}`);
  return [
    `total sampled ${(total / 1000).toFixed(0)} ms (self time; the runtime's native work charged to its JavaScript caller;` +
      ` ${(gapsUs / 1000).toFixed(0)} ms of gaps between samples, each over ${MAX_SAMPLE_US} µs, not counted)`,
    "by module:",
    ...lines(byModule),
    "by function (← the native function it called):",
    ...lines(byFunction),
  ].join("\n");
}

/** Maps a bundle line to the file esbuild inlined there (its `// path` heading). */
function moduleResolver(sources: Record<string, string>, urls: Record<string, string>): (scriptId: string, line: number) => string {
  const headings = new Map<string, { line: number; path: string }[]>();
  for (const [scriptId, source] of Object.entries(sources)) {
    const found: { line: number; path: string }[] = [];
    source.split("\n").forEach((text, line) => {
      const match = /^\/\/ ((?:\.\.\/)*[\w@.-][\w@./-]*\.(?:m?js|ts|cjs|mts))$/.exec(text);
      if (match) found.push({ line, path: shorten(match[1]!) });
    });
    headings.set(scriptId, found);
  }
  return (scriptId, line) =>
    headings.get(scriptId)?.findLast((heading) => heading.line <= line)?.path ?? `(${urls[scriptId]?.split("/").at(-1) || `script ${scriptId}`})`;
}

/** `node_modules/ai/dist/index.mjs` → `ai`; `src/turn/run.ts` stays. */
function shorten(path: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  return match ? match[1]! : path.replace(/^(\.\.\/)+/, "");
}
