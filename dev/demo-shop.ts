/**
 * The demo shop `npm run dev` serves: one page per demo widget, each embedding widget.js exactly
 * as a merchant would (the snippet, the loader stub, a strict Content-Security-Policy), on an
 * origin of its own (`http://localhost:<port>`, while the API is `http://127.0.0.1:<port>`), so
 * every request the widget makes is cross-origin as on a real site.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import { listenOnLoopback, readBody } from "./loopback";

/** The demo pages: path, public key, and what the page says about its widget. */
export const DEMO_PAGES = [
  { path: "/demo", publicKey: "pk_local_demo", name: "Model greeting", about: "The model writes the greeting (initialTurn: \"llm\"); quick replies." },
  { path: "/static", publicKey: "pk_local_static", name: "Static greeting", about: "A fixed greeting shows at once." },
  { path: "/tools", publicKey: "pk_local_tools", name: "Flow and tools", about: "Two flow nodes, an HTTP tool and an MCP server. Try: /tool get_order_status {\"orderId\":\"A1\"}" },
  {
    path: "/turnstile",
    publicKey: "pk_local_turnstile",
    name: "Turnstile",
    about: "A Turnstile challenge before the session (a local fake; ?turnstile=fail gets a token it refuses).",
  },
] as const;

/**
 * The demo's Turnstile: Cloudflare's documented always-pass test keys (so the seeded widget
 * also works against the real Turnstile), and the token the local fake hands out for a passed
 * challenge (the one Cloudflare's test keys produce).
 */
export const DEMO_TURNSTILE = {
  siteKey: "1x00000000000000000000AA",
  secret: "1x0000000000000000000000000000000AA",
  passingToken: "XXXX.DUMMY.TOKEN.XXXX",
} as const;

/** The fake siteverify the dev Worker's `TURNSTILE_VERIFY_URL` points at, on the shop's origin. */
export const FAKE_SITEVERIFY_PATH = "/fake-turnstile/siteverify";

export interface DemoShopOptions {
  /** Port on 127.0.0.1 (the pages are meant to be opened as `http://localhost:<port>`); 0 picks one. */
  port?: number;
  /** Where widget.js and the API live, e.g. `http://127.0.0.1:8787`. */
  apiOrigin: string;
}

export interface DemoShop {
  /** `http://localhost:<port>`: the origin the seed allows. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Starts the demo shop. Besides the pages above, `/widget?key=pk_…&title=…` embeds any widget
 * (used by the browser tests for widgets they make themselves).
 */
export async function startDemoShop({ port = 0, apiOrigin }: DemoShopOptions): Promise<DemoShop> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://shop");
    if (url.pathname === "/favicon.ico") {
      res.writeHead(204).end();
      return;
    }
    if (url.pathname === "/fake-turnstile.js") {
      const token = url.searchParams.get("mode") === "fail" ? "fake-refused-token" : DEMO_TURNSTILE.passingToken;
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-store" }).end(fakeTurnstileScript(token));
      return;
    }
    if (url.pathname === FAKE_SITEVERIFY_PATH && req.method === "POST") {
      void answerSiteverify(req).then((answer) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer)));
      return;
    }
    const page = url.pathname === "/" ? DEMO_PAGES[0] : DEMO_PAGES.find((p) => p.path === url.pathname);
    const key = url.pathname === "/widget" ? url.searchParams.get("key") : page?.publicKey;
    if (!key || !/^[\w-]{1,200}$/.test(key)) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("No such page. Try /demo, /static, /tools or /turnstile.\n");
      return;
    }
    const nonce = randomBytes(16).toString("base64");
    const title = url.searchParams.get("title") ?? "Northwind Support";
    // The Turnstile page loads the local fake (no network here); a real page needs neither line.
    const turnstileScript = page?.path === "/turnstile" ? `/fake-turnstile.js${url.searchParams.get("turnstile") === "fail" ? "?mode=fail" : ""}` : null;
    const turnstileSources = turnstileScript ? " 'self' https://challenges.cloudflare.com" : "";
    res
      .writeHead(200, {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        // What a merchant with a strict policy needs for the widget: its script and its API.
        "content-security-policy": [
          "default-src 'none'",
          `script-src 'nonce-${nonce}' ${apiOrigin}${turnstileSources}`,
          // What Turnstile adds: its script (above) and its challenge's iframe.
          ...(turnstileScript ? ["frame-src https://challenges.cloudflare.com"] : []),
          `connect-src ${apiOrigin}`,
          `style-src 'nonce-${nonce}'`,
          "img-src 'self' data:",
          "base-uri 'none'",
          "form-action 'none'",
        ].join("; "),
      })
      .end(renderPage({ nonce, apiOrigin, publicKey: key, title, current: page?.path ?? "/widget", about: page?.about ?? `Widget ${key}.`, turnstileScript }));
  });
  const listening = await listenOnLoopback(server, port);
  return { url: `http://localhost:${listening.port}`, port: listening.port, close: listening.close };
}

function renderPage({
  nonce,
  apiOrigin,
  publicKey,
  title,
  current,
  about,
  turnstileScript,
}: {
  nonce: string;
  apiOrigin: string;
  publicKey: string;
  title: string;
  current: string;
  about: string;
  turnstileScript: string | null;
}): string {
  const nav = DEMO_PAGES.map((p) => `<a href="${p.path}"${p.path === current ? ' aria-current="page"' : ""}>${p.name}</a>`).join("");
  const products = [
    ["Linen shirt", "€49"],
    ["Canvas tote", "€25"],
    ["Wool beanie", "€19"],
    ["Leather wallet", "€39"],
    ["Cotton socks", "€9"],
    ["Rain jacket", "€89"],
  ]
    .map(([name, price]) => `<li><div class="swatch"></div><h3>${name}</h3><p>${price}</p></li>`)
    .join("");
  const swatches = ["#d9c7b0", "#9bb2a5", "#c98f7a", "#7d6a5a", "#a8b8cf", "#5e7d8c"]
    .map((colour, i) => `ul.grid li:nth-child(${i + 1}) .swatch { background: ${colour}; }`)
    .join("\n  ");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<title>Northwind Goods — parley demo shop</title>
<style nonce="${nonce}">
  body { margin: 0; font: 16px/1.5 Georgia, "Times New Roman", serif; color: #2b2622; background: #faf7f2; }
  header { display: flex; flex-wrap: wrap; gap: 12px 28px; align-items: baseline; padding: 18px 32px; border-bottom: 1px solid #e7dfd3; background: #fff; }
  header strong { font-size: 22px; letter-spacing: .02em; }
  nav { display: flex; gap: 18px; flex-wrap: wrap; }
  nav a { color: #6b5d50; text-decoration: none; font-family: system-ui, sans-serif; font-size: 14px; }
  nav a[aria-current] { color: #2b2622; font-weight: 600; border-bottom: 2px solid #2b2622; }
  main { max-width: 980px; margin: 0 auto; padding: 32px; }
  .hero h1 { font-size: 34px; margin: 0 0 6px; }
  .hero p { margin: 0 0 8px; color: #6b5d50; font-family: system-ui, sans-serif; font-size: 14px; }
  .hero button { margin-top: 10px; padding: 10px 18px; border: 1px solid #2b2622; background: transparent; border-radius: 999px; font: 14px system-ui, sans-serif; cursor: pointer; }
  ul.grid { list-style: none; padding: 0; margin: 28px 0 0; display: grid; gap: 20px; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); }
  ul.grid li { background: #fff; border: 1px solid #eee5d8; border-radius: 12px; padding: 12px; }
  .swatch { height: 150px; border-radius: 8px; }
  ul.grid h3 { margin: 10px 0 0; font-size: 17px; }
  ul.grid p { margin: 0; color: #6b5d50; font-family: system-ui, sans-serif; }
  code { font-size: 13px; }
  ${swatches}
</style>
<!-- The optional loader stub: calls made before widget.js loads are queued and replayed. -->
<script nonce="${nonce}">
  (function (w, names) {
    var p = (w.Parley = w.Parley || { q: [] });
    names.forEach(function (n) { p[n] = p[n] || function () { p.q.push([n, [].slice.call(arguments)]); }; });
  })(window, ["boot", "open", "close", "newConversation"]);
  Parley.boot({ metadata: { page: location.pathname } });
</script>
<!-- The snippet a merchant pastes. -->
<script src="${apiOrigin}/widget.js" data-public-key="${publicKey}" data-title="${escapeAttribute(title)}" data-var-shop-name="Northwind Goods"${turnstileScript ? ` data-turnstile-script="${turnstileScript}"` : ""} async></script>
</head>
<body>
<header><strong>Northwind Goods</strong><nav aria-label="Demo widgets">${nav}</nav></header>
<main>
  <section class="hero">
    <h1>Everyday goods, made to last</h1>
    <p>parley demo shop · widget <code>${publicKey}</code> · ${escapeText(about)}</p>
    <button type="button" id="ask">Ask us anything</button>
  </section>
  <ul class="grid">${products}</ul>
</main>
<script nonce="${nonce}">
  document.getElementById("ask").addEventListener("click", function () { Parley.open(); });
</script>
</body>
</html>
`;
}

/**
 * A stand-in for Turnstile's script (`window.turnstile` with explicit `render`, `remove`):
 * renders a "Verify you are human" button into the container; pressing it passes the
 * challenge with `token`.
 */
function fakeTurnstileScript(token: string): string {
  return `"use strict";
(function () {
  var widgets = {};
  var next = 0;
  window.turnstile = {
    render: function (container, options) {
      var id = "fake-" + ++next;
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = "Verify you are human";
      button.dataset.sitekey = options.sitekey;
      button.addEventListener("click", function () {
        button.disabled = true;
        options.callback(${JSON.stringify(token)});
      });
      container.append(button);
      widgets[id] = button;
      return id;
    },
    remove: function (id) {
      if (widgets[id]) widgets[id].remove();
      delete widgets[id];
    },
  };
})();
`;
}

/**
 * The fake siteverify (form-encoded, as Cloudflare's): passes the token the fake script hands
 * out for a passed challenge and refuses any other.
 */
async function answerSiteverify(req: IncomingMessage): Promise<{ success: boolean; "error-codes": string[] }> {
  const form = new URLSearchParams(await readBody(req, 64 * 1024).catch(() => ""));
  const passed = form.get("response") === DEMO_TURNSTILE.passingToken;
  return { success: passed, "error-codes": passed ? [] : ["invalid-input-response"] };
}

function escapeText(text: string): string {
  return text.replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]!);
}

function escapeAttribute(text: string): string {
  return escapeText(text).replace(/"/g, "&quot;");
}
