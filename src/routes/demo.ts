import { Hono } from "hono";
import { parseConfig, type Config } from "../config";
import { DEMO_WIDGETS, demoPageResponse } from "../demo/pages";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";

/** Where the Worker serves the demo shop (development and previews only). */
export const DEMO_BASE_PATH = "/demo";

/** The demo widgets a Worker serves a page for: the ones a deployed preview can run (no Turnstile fake there). */
const WORKER_DEMO_WIDGETS = DEMO_WIDGETS.filter((widget) => widget.slug !== "turnstile");

/** A demo widget's page path on the Worker: `/demo` for the front page, `/demo/<slug>` for the others. */
export const demoPagePath = (slug: string) => (slug === "demo" ? DEMO_BASE_PATH : `${DEMO_BASE_PATH}/${slug}`);

/** Every demo page path the Worker serves, e.g. for the OpenAPI document. */
export const DEMO_PAGE_PATHS = WORKER_DEMO_WIDGETS.map((widget) => demoPagePath(widget.slug));

/**
 * The demo page of widget `slug` as served by the Worker at `origin` (so the snippet's `src` is
 * the Worker's own `/widget.js` and the page is same-origin with the API), or null where there is
 * no such page: in production, or for an unknown slug.
 */
export function workerDemoPage({ environment, origin, slug }: { environment: Config["environment"]; origin: string; slug: string }): Response | null {
  if (environment === "production") return null;
  const widget = WORKER_DEMO_WIDGETS.find((w) => w.slug === slug);
  if (!widget) return null;
  const nav = WORKER_DEMO_WIDGETS.map((w) => ({ href: demoPagePath(w.slug), name: w.name, current: w.slug === slug }));
  return demoPageResponse({ apiOrigin: origin, publicKey: widget.publicKey, title: "Northwind Support", about: widget.about, nav, turnstileScript: null });
}

/** `GET /demo`, `/demo/static`, `/demo/tools`: the demo shop on the Worker's origin; 404 in production. */
export const demo = new Hono<AppEnv>();
for (const widget of WORKER_DEMO_WIDGETS) {
  const path = widget.slug === "demo" ? "/" : `/${widget.slug}`;
  demo.get(path, (c) => {
    const page = workerDemoPage({ environment: parseConfig(c.env).environment, origin: new URL(c.req.url).origin, slug: widget.slug });
    if (!page) throw new ApiError("not_found");
    return page;
  });
}
