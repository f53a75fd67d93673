/**
 * The demo shop's pages, shared by the local demo shop (`npm run dev`, on an origin of its own)
 * and the Worker's `/demo` routes (a preview, same origin as the API). Each page embeds widget.js
 * exactly as a merchant would: the loader stub, the snippet, a strict Content-Security-Policy.
 * Web-standard only (no Node imports): it runs in the Worker too.
 */

/** One demo widget: its page slug, public key, and what the page says about it. */
export interface DemoWidget {
  /** The page's last path segment, e.g. `static`; `demo` is the shop's front page. */
  slug: string;
  publicKey: string;
  name: string;
  about: string;
}

/** The demo widgets the seed makes (dev/seed.ts), one page each. */
export const DEMO_WIDGETS = [
  { slug: "demo", publicKey: "pk_local_demo", name: "Model greeting", about: "The model writes the greeting (initialTurn: \"llm\"); quick replies." },
  { slug: "static", publicKey: "pk_local_static", name: "Static greeting", about: "A fixed greeting shows at once." },
  { slug: "tools", publicKey: "pk_local_tools", name: "Flow and tools", about: "Two flow nodes, an HTTP tool and an MCP server. Try: /tool get_order_status {\"orderId\":\"A1\"}" },
  {
    slug: "approvals",
    publicKey: "pk_local_approvals",
    name: "Approvals and page tools",
    about: "cancel_order runs only once you approve it; get_cart is answered by this page (Parley.onToolCall).",
  },
  {
    slug: "turnstile",
    publicKey: "pk_local_turnstile",
    name: "Turnstile",
    about: "A Turnstile challenge before the session (a local fake; ?turnstile=fail gets a token it refuses).",
  },
] as const satisfies readonly DemoWidget[];

/** A link in the page's navigation between demo widgets. */
export interface DemoNavLink {
  href: string;
  name: string;
  current: boolean;
}

export interface DemoPageOptions {
  /** Where widget.js and the API live, e.g. `http://127.0.0.1:8787`; the snippet's `src` is `<apiOrigin>/widget.js`. */
  apiOrigin: string;
  publicKey: string;
  /** The widget's `data-title`. */
  title: string;
  about: string;
  nav: readonly DemoNavLink[];
  /** A Turnstile script for `data-turnstile-script` (the local fake), or null for none. */
  turnstileScript: string | null;
  /** The visitor's identity token, signed by the shop's server, for `data-identity-token`… */
  identityToken?: string | null;
  /** …or, when set, handed over with `Parley.boot({ identityToken })` in the stub instead. */
  identityViaBoot?: boolean;
  /** Further `data-var-*` values the page sets (name in kebab-case → value). */
  pageVars?: Record<string, string>;
}

/** A fresh CSP nonce: 16 random bytes, base64. */
export function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes));
}

/**
 * The response headers of a demo page: HTML, never cached, and the Content-Security-Policy a
 * merchant with a strict policy needs for the widget (its script and its API; with Turnstile,
 * Cloudflare's script and challenge iframe too).
 */
export function demoPageHeaders({ nonce, apiOrigin, turnstile }: { nonce: string; apiOrigin: string; turnstile: boolean }): Record<string, string> {
  const turnstileSources = turnstile ? " 'self' https://challenges.cloudflare.com" : "";
  return {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "content-security-policy": [
      "default-src 'none'",
      `script-src 'nonce-${nonce}' ${apiOrigin}${turnstileSources}`,
      ...(turnstile ? ["frame-src https://challenges.cloudflare.com"] : []),
      `connect-src ${apiOrigin}`,
      `style-src 'nonce-${nonce}'`,
      "img-src 'self' data:",
      "base-uri 'none'",
      "form-action 'none'",
    ].join("; "),
  };
}

/** A demo page as a Response (a fresh nonce per page). */
export function demoPageResponse(options: DemoPageOptions): Response {
  const nonce = newNonce();
  return new Response(renderDemoPage(options, nonce), {
    headers: demoPageHeaders({ nonce, apiOrigin: options.apiOrigin, turnstile: options.turnstileScript !== null }),
  });
}

/** The page's HTML; every inline script and style carries `nonce`. */
export function renderDemoPage(
  { apiOrigin, publicKey, title, about, nav, turnstileScript, identityToken, identityViaBoot = false, pageVars = {} }: DemoPageOptions,
  nonce: string,
): string {
  // A JWT is base64url and dots only: safe inside a script's string literal as well as an attribute.
  const bootIdentity = identityToken && identityViaBoot ? `, identityToken: ${JSON.stringify(identityToken)}` : "";
  const extra =
    (identityToken && !identityViaBoot ? ` data-identity-token="${escapeAttribute(identityToken)}"` : "") +
    Object.entries(pageVars)
      .map(([name, value]) => ` data-var-${escapeAttribute(name)}="${escapeAttribute(value)}"`)
      .join("");
  const links = nav
    .map((link) => `<a href="${escapeAttribute(link.href)}"${link.current ? ' aria-current="page"' : ""}>${escapeText(link.name)}</a>`)
    .join("");
  const products = [
    ["Linen shirt", "€49"],
    ["Canvas tote", "€25"],
    ["Wool beanie", "€19"],
    ["Leather wallet", "€39"],
    ["Cotton socks", "€9"],
    ["Rain jacket", "€89"],
  ]
    .map(([name, price]) => `<li><div class="swatch"></div><h3>${name}</h3><p>${price}</p><button type="button" class="add" data-product="${name}" aria-label="Add ${name} to cart">Add to cart</button></li>`)
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
  ul.grid button.add { margin-top: 8px; padding: 6px 12px; border: 1px solid #6b5d50; background: #fff; border-radius: 999px; font: 13px system-ui, sans-serif; cursor: pointer; }
  code { font-size: 13px; }
  ${swatches}
</style>
<!-- The optional loader stub: calls made before widget.js loads are queued and replayed. -->
<script nonce="${nonce}">
  (function (w, names) {
    var p = (w.Parley = w.Parley || { q: [] });
    names.forEach(function (n) { p[n] = p[n] || function () { p.q.push([n, [].slice.call(arguments)]); }; });
  })(window, ["boot", "open", "close", "newConversation", "setContext", "onToolCall"]);
  Parley.boot({ metadata: { page: location.pathname }${bootIdentity} });
  // Page context: what the assistant may know about this page (the template's allow-list decides).
  Parley.setContext({ page: location.pathname, cart: [] });
  // The shop's cart: the page context carries it, and the client tool get_cart answers it
  // (templates that declare it). Registered here, before widget.js runs, so a reloaded widget
  // answering a call still waiting finds the handler.
  (function () {
    var cart = [];
    Parley.onToolCall("get_cart", function () {
      return { items: cart.slice() };
    });
    document.addEventListener("DOMContentLoaded", function () {
      document.querySelectorAll("button.add").forEach(function (button) {
        button.addEventListener("click", function () {
          cart.push(button.dataset.product);
          document.getElementById("cart").textContent = "Cart: " + cart.join(", ");
          Parley.setContext({ page: location.pathname, cart: cart.slice() });
        });
      });
    });
  })();
</script>
<!-- The snippet a merchant pastes. -->
<script src="${apiOrigin}/widget.js" data-public-key="${publicKey}" data-title="${escapeAttribute(title)}" data-var-shop-name="Northwind Goods"${extra}${turnstileScript ? ` data-turnstile-script="${escapeAttribute(turnstileScript)}"` : ""} async></script>
</head>
<body>
<header><strong>Northwind Goods</strong><nav aria-label="Demo widgets">${links}</nav></header>
<main>
  <section class="hero">
    <h1>Everyday goods, made to last</h1>
    <p>parley demo shop · widget <code>${publicKey}</code> · ${escapeText(about)}</p>
    <button type="button" id="ask">Ask us anything</button>
    <p id="cart" aria-live="polite">Cart: empty</p>
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

function escapeText(text: string): string {
  return text.replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]!);
}

function escapeAttribute(text: string): string {
  return escapeText(text).replace(/"/g, "&quot;");
}
