/**
 * Builds widget.js: esbuild bundles and minifies `widget/src/index.ts` into the Worker's static
 * assets (`public/`), as `widget.js` (the URL merchants embed, short cache) and
 * `widget-<hash>.js` (the same bytes under a content-hashed name, cached forever). Run as
 * `npm run build:widget`; `npm run dev` and `npm test` build it too.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = resolve(import.meta.dirname, "..");

/** widget.js must stay at or under this many bytes gzipped (issue budget). */
export const WIDGET_GZIP_BUDGET_BYTES = 15 * 1024;

export interface BuiltWidget {
  /** The bundle as served. */
  code: string;
  /** First 10 hex digits of its SHA-256: `Parley.version` and the hashed file's name. */
  version: string;
  /** gzip -9 size, in bytes. */
  gzipBytes: number;
  /** Files written, absolute paths (none when `outDir` is null). */
  files: string[];
}

/**
 * Bundles the widget. The version is the hash of the bundle built with a placeholder, so it
 * depends only on the source. Writes into `outDir` (default `public/`) unless it is null,
 * removing older hashed copies there.
 */
export async function buildWidget({ outDir = resolve(root, "public") }: { outDir?: string | null } = {}): Promise<BuiltWidget> {
  const bundle = async (version: string) => {
    const result = await build({
      entryPoints: [resolve(root, "widget/src/index.ts")],
      bundle: true,
      minify: true,
      format: "iife",
      target: ["es2022", "chrome100", "firefox100", "safari15.4"],
      tsconfig: resolve(root, "widget/tsconfig.json"),
      define: { __PARLEY_VERSION__: JSON.stringify(version) },
      legalComments: "none",
      write: false,
      logLevel: "silent",
    });
    return result.outputFiles[0]!.text;
  };
  const version = createHash("sha256").update(await bundle("0000000000")).digest("hex").slice(0, 10);
  const code = await bundle(version);
  const gzipBytes = gzipSync(code, { level: 9 }).length;
  const files: string[] = [];
  if (outDir) {
    mkdirSync(outDir, { recursive: true });
    for (const name of readdirSync(outDir)) if (/^widget-[0-9a-f]{10}\.js$/.test(name)) rmSync(join(outDir, name));
    for (const name of ["widget.js", `widget-${version}.js`]) {
      writeFileSync(join(outDir, name), code);
      files.push(join(outDir, name));
    }
  }
  return { code, version, gzipBytes, files };
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const built = await buildWidget();
  const budget = built.gzipBytes <= WIDGET_GZIP_BUDGET_BYTES ? "within" : "OVER";
  console.log(`widget.js ${built.version}: ${built.code.length} bytes, ${built.gzipBytes} gzip (${budget} the ${WIDGET_GZIP_BUDGET_BYTES} budget)`);
  if (built.gzipBytes > WIDGET_GZIP_BUDGET_BYTES) process.exitCode = 1;
}
