/**
 * The demo shop `npm run dev` serves: one page per demo widget, each embedding widget.js exactly
 * as a merchant would (the snippet, the loader stub, a strict Content-Security-Policy), on an
 * origin of its own (`http://localhost:<port>`, while the API is `http://127.0.0.1:<port>`), so
 * every request the widget makes is cross-origin as on a real site.
 */
import { createServer, type IncomingMessage } from "node:http";
import { DEMO_WIDGETS, demoPageHeaders, newNonce, renderDemoPage } from "../src/demo/pages";
import { DEMO_IDENTITY, DEMO_TOKEN_KINDS, demoIdentityToken, type DemoTokenKind } from "./demo-identity";
import { listenOnLoopback, readBody } from "./loopback";

/**
 * The verified-visitor pages: the shop's server signs the visitor's identity token (the
 * merchant's side) for the widget of the page. `?visitor=&name=&tier=` choose the visitor,
 * `?token=` one of DEMO_TOKEN_KINDS (default `valid`), `?clientTier=` a `data-var-customer-tier`
 * the page sets itself (which parley drops: the tier is a trusted variable), `?via=boot` hands the
 * token over with `Parley.boot({ identityToken })` instead of `data-identity-token`.
 */
const IDENTITY_PAGES: Record<string, { publicKey: string; secret: string; otherSecret: string; about: string }> = {
  "/identity": {
    publicKey: "pk_local_identity",
    secret: DEMO_IDENTITY.secret,
    otherSecret: DEMO_IDENTITY.membersSecret,
    about: "A verified visitor: the shop's server signs an identity token (name and tier are trusted variables); the same visitor on another device resumes the conversation.",
  },
  "/members": {
    publicKey: "pk_local_members",
    secret: DEMO_IDENTITY.membersSecret,
    otherSecret: DEMO_IDENTITY.secret,
    about: "Members only (requireIdentity): no valid identity token, no chat. Try ?token=absent.",
  },
};

/** The demo pages: path, public key, and what the page says about its widget. */
export const DEMO_PAGES = DEMO_WIDGETS.map((widget) => ({ ...widget, path: `/${widget.slug}` }));

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
    const identityPage = IDENTITY_PAGES[url.pathname];
    if (identityPage) {
      void identityPageHtml(url, identityPage, apiOrigin).then(
        ({ headers, html }) => res.writeHead(200, headers).end(html),
        (error: unknown) => res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end(`identity page failed: ${String(error)}\n`),
      );
      return;
    }
    const page = url.pathname === "/" ? DEMO_PAGES[0] : DEMO_PAGES.find((p) => p.path === url.pathname);
    const key = url.pathname === "/widget" ? url.searchParams.get("key") : page?.publicKey;
    if (!key || !/^[\w-]{1,200}$/.test(key)) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("No such page. Try /demo, /static, /tools, /turnstile, /identity or /members.\n");
      return;
    }
    const nonce = newNonce();
    const title = url.searchParams.get("title") ?? "Northwind Support";
    // The Turnstile page loads the local fake (no network here); a real page needs neither line.
    const turnstileScript = page?.path === "/turnstile" ? `/fake-turnstile.js${url.searchParams.get("turnstile") === "fail" ? "?mode=fail" : ""}` : null;
    const current = page?.path ?? "/widget";
    const nav = DEMO_PAGES.map((p) => ({ href: p.path, name: p.name, current: p.path === current }));
    res
      .writeHead(200, demoPageHeaders({ nonce, apiOrigin, turnstile: turnstileScript !== null }))
      .end(renderDemoPage({ apiOrigin, publicKey: key, title, about: page?.about ?? `Widget ${key}.`, nav, turnstileScript }, nonce));
  });
  const listening = await listenOnLoopback(server, port);
  return { url: `http://localhost:${listening.port}`, port: listening.port, close: listening.close };
}

/** A verified-visitor page: the identity token signed here, on the shop's server, and embedded in the snippet. */
async function identityPageHtml(
  url: URL,
  page: (typeof IDENTITY_PAGES)[string],
  apiOrigin: string,
): Promise<{ headers: Record<string, string>; html: string }> {
  const query = url.searchParams;
  const kind = (DEMO_TOKEN_KINDS as readonly string[]).includes(query.get("token") ?? "") ? (query.get("token") as DemoTokenKind) : "valid";
  const visitor = { sub: query.get("visitor") || "ada", vars: { customerName: query.get("name") || "Ada", customerTier: query.get("tier") || "gold" } };
  const identityToken = await demoIdentityToken(kind, { secret: page.secret, otherSecret: page.otherSecret, visitor });
  const clientTier = query.get("clientTier");
  const nonce = newNonce();
  const nav = DEMO_PAGES.map((p) => ({ href: p.path, name: p.name, current: false }));
  const html = renderDemoPage(
    {
      apiOrigin,
      publicKey: page.publicKey,
      title: query.get("title") ?? "Northwind Support",
      about: page.about,
      nav,
      turnstileScript: null,
      identityToken,
      identityViaBoot: query.get("via") === "boot",
      ...(clientTier ? { pageVars: { "customer-tier": clientTier } } : {}),
    },
    nonce,
  );
  return { headers: demoPageHeaders({ nonce, apiOrigin, turnstile: false }), html };
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
