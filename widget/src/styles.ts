/**
 * The widget's styles, adopted by its shadow root as a constructable stylesheet: no `<style>`
 * element, so a page's strict `style-src` does not block it. Theming goes through custom
 * properties set on the host (`--parley-accent`, `--parley-on-accent`), which pages may also set.
 */
const CSS = `
:host {
  all: initial;
  --parley-accent: #4f46e5;
  --parley-on-accent: #fff;
  --parley-bg: #fff;
  --parley-fg: #1b1c1f;
  --parley-muted: #61646b;
  --parley-bubble: #f1f2f4;
  --parley-border: #e2e4e8;
  --parley-shadow: 0 12px 40px rgba(17, 24, 39, .18), 0 2px 8px rgba(17, 24, 39, .08);
  --parley-radius: 16px;
  --parley-font: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  --parley-gap: 20px;
  position: fixed;
  z-index: 2147483000;
  bottom: 0;
  right: 0;
  font-family: var(--parley-font);
  font-size: 15px;
  line-height: 1.45;
  color: var(--parley-fg);
  color-scheme: light;
}
:host([data-position="left"]) { right: auto; left: 0; }
@media (prefers-color-scheme: dark) {
  :host {
    --parley-bg: #1c1d21;
    --parley-fg: #ecedf0;
    --parley-muted: #a3a6ad;
    --parley-bubble: #2a2c31;
    --parley-border: #34363c;
    --parley-shadow: 0 12px 40px rgba(0, 0, 0, .5);
    color-scheme: dark;
  }
}
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
button { font: inherit; color: inherit; cursor: pointer; }
button:focus-visible, textarea:focus-visible, .log:focus-visible, a:focus-visible {
  outline: 2px solid var(--parley-accent);
  outline-offset: 2px;
}
svg { width: 22px; height: 22px; fill: none; stroke: currentColor; stroke-width: 2; stroke-linecap: round; stroke-linejoin: round; }

.launcher {
  position: fixed;
  bottom: calc(var(--parley-gap) + env(safe-area-inset-bottom, 0px));
  right: calc(var(--parley-gap) + env(safe-area-inset-right, 0px));
  width: 60px; height: 60px;
  border: 0; border-radius: 50%;
  display: grid; place-items: center;
  background: var(--parley-accent); color: var(--parley-on-accent);
  box-shadow: var(--parley-shadow);
  transition: transform .15s ease;
}
.launcher svg { width: 28px; height: 28px; }
.launcher:hover { transform: scale(1.06); }
:host([data-position="left"]) .launcher { right: auto; left: calc(var(--parley-gap) + env(safe-area-inset-left, 0px)); }

.panel {
  position: fixed;
  bottom: calc(var(--parley-gap) + env(safe-area-inset-bottom, 0px));
  right: calc(var(--parley-gap) + env(safe-area-inset-right, 0px));
  width: 384px;
  height: min(640px, calc(100dvh - 2 * var(--parley-gap)));
  display: flex; flex-direction: column;
  background: var(--parley-bg);
  border: 1px solid var(--parley-border);
  border-radius: var(--parley-radius);
  box-shadow: var(--parley-shadow);
  overflow: hidden;
  animation: parley-in .18s ease-out;
}
:host([data-position="left"]) .panel { right: auto; left: calc(var(--parley-gap) + env(safe-area-inset-left, 0px)); }
@keyframes parley-in { from { opacity: 0; transform: translateY(12px) scale(.98); } }

.header {
  display: flex; align-items: center; gap: 4px;
  padding: 14px 10px 14px 18px;
  background: var(--parley-accent); color: var(--parley-on-accent);
}
.title { flex: 1; margin: 0; font-size: 16px; font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.icon-button {
  width: 36px; height: 36px; border: 0; border-radius: 10px;
  display: grid; place-items: center;
  background: transparent; color: inherit;
}
.icon-button:hover { background: rgba(255, 255, 255, .16); }
.header button:focus-visible { outline-color: var(--parley-on-accent); }

.log {
  flex: 1; overflow-y: auto; overscroll-behavior: contain;
  padding: 18px 16px 8px;
  display: flex; flex-direction: column; gap: 10px;
}
.message { max-width: 86%; padding: 9px 13px; border-radius: 16px; overflow-wrap: anywhere; }
.message.assistant { align-self: flex-start; background: var(--parley-bubble); border-bottom-left-radius: 5px; }
.message.user { align-self: flex-end; background: var(--parley-accent); color: var(--parley-on-accent); border-bottom-right-radius: 5px; white-space: pre-wrap; }
.message p, .message ul, .message ol, .message pre { margin: 0 0 .55em; }
.message > :last-child, .message .body > :last-child { margin-bottom: 0; }
.message ul, .message ol { padding-left: 1.3em; }
.message code { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: rgba(127, 127, 127, .16); padding: 1px 4px; border-radius: 4px; }
.message pre { overflow-x: auto; padding: 8px 10px; background: rgba(127, 127, 127, .14); border-radius: 8px; }
.message pre code { background: none; padding: 0; }
.message a { color: inherit; text-decoration: underline; }
.message.assistant a { color: var(--parley-accent); }
@media (prefers-color-scheme: dark) { .message.assistant a { color: inherit; } }
.typing { display: inline-flex; gap: 4px; padding: 4px 0; }
.typing i { width: 7px; height: 7px; border-radius: 50%; background: var(--parley-muted); animation: parley-dot 1s infinite ease-in-out; }
.typing i:nth-child(2) { animation-delay: .15s; }
.typing i:nth-child(3) { animation-delay: .3s; }
@keyframes parley-dot { 0%, 80%, 100% { opacity: .3; } 40% { opacity: 1; } }
.tool { display: flex; align-items: center; gap: 6px; margin: 2px 0 6px; font-size: 13px; color: var(--parley-muted); }
.tool::before { content: ""; width: 8px; height: 8px; border-radius: 50%; border: 2px solid currentColor; border-right-color: transparent; animation: parley-spin .8s linear infinite; }
.tool.done::before { border-color: currentColor; background: currentColor; animation: none; transform: scale(.7); }
@keyframes parley-spin { to { transform: rotate(360deg); } }
.mark { display: block; margin-top: 6px; font-size: 12px; color: var(--parley-muted); font-style: italic; }

.notice {
  margin: 0 16px 8px; padding: 9px 12px;
  border-radius: 10px; font-size: 14px;
  background: #fff4e5; color: #6b3d00;
  display: flex; align-items: center; gap: 10px; flex-wrap: wrap;
}
@media (prefers-color-scheme: dark) { .notice { background: #3a2a12; color: #ffd9a3; } }
.notice span { flex: 1 1 160px; }
.approval { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; margin: 2px 0 6px; font-size: 14px; }
.approval span { flex: 1 1 100%; }
.approval button, .notice button { border: 1px solid currentColor; background: transparent; border-radius: 8px; padding: 4px 10px; font-size: 13px; font-weight: 600; }

/* Turnstile's challenge (300×65 px when it shows) above the notice that explains it. */
.challenge { display: flex; justify-content: center; margin: 0 16px 8px; min-height: 65px; }

.quick { display: flex; flex-wrap: wrap; gap: 6px; padding: 4px 16px 8px; }
.quick button {
  border: 1px solid var(--parley-accent); background: transparent; color: var(--parley-accent);
  border-radius: 999px; padding: 5px 12px; font-size: 14px;
}
@media (prefers-color-scheme: dark) { .quick button { color: var(--parley-fg); } }
.quick button:hover { background: var(--parley-accent); color: var(--parley-on-accent); }
.quick button:disabled { opacity: .5; cursor: default; }

.composer {
  display: flex; align-items: flex-end; gap: 8px;
  padding: 10px 12px calc(12px + env(safe-area-inset-bottom, 0px));
  border-top: 1px solid var(--parley-border);
}
.composer textarea {
  flex: 1; resize: none; max-height: 140px; min-height: 42px;
  padding: 10px 12px; border: 1px solid var(--parley-border); border-radius: 12px;
  font: inherit; color: inherit; background: transparent;
}
.composer textarea:focus { border-color: var(--parley-accent); outline: none; }
.composer textarea:focus-visible { outline: 2px solid var(--parley-accent); outline-offset: 0; }
.send {
  height: 42px; min-width: 42px; padding: 0 12px; border: 0; border-radius: 12px;
  display: inline-flex; align-items: center; justify-content: center; gap: 6px;
  background: var(--parley-accent); color: var(--parley-on-accent); font-weight: 600;
}
.send svg { width: 18px; height: 18px; }
.send.stop svg { fill: currentColor; }
.send:disabled { opacity: .55; cursor: default; }
.send[aria-pressed="true"] { background: #c62828; }
.footer { margin: 0; padding: 0 12px 8px; text-align: center; font-size: 11px; color: var(--parley-muted); }
.sr-only { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }

@media (max-width: 640px) {
  .panel {
    inset: 0; width: 100vw; height: 100vh; height: 100dvh;
    border: 0; border-radius: 0;
    padding: env(safe-area-inset-top, 0px) env(safe-area-inset-right, 0px) 0 env(safe-area-inset-left, 0px);
  }
  :host([data-position="left"]) .panel { left: 0; }
}
@media (prefers-reduced-motion: reduce) {
  *, *::before, *::after { animation: none !important; transition: none !important; }
}
`;

/** One sheet for every widget on the page (there is one), made on first use. */
let sheet: CSSStyleSheet | undefined;

/** The widget's stylesheet, as a constructable stylesheet. */
export function widgetStyleSheet(): CSSStyleSheet {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
  }
  return sheet;
}

/** Black or white, whichever reads better on `color` (a CSS colour the browser understands). */
export function textColorOn(color: string): string | null {
  const probe = document.createElement("span");
  probe.style.color = color;
  if (!probe.style.color) return null;
  document.body.append(probe);
  const rgb = getComputedStyle(probe).color.match(/[\d.]+/g)?.map(Number) ?? [];
  probe.remove();
  if (rgb.length < 3) return null;
  const [r, g, b] = rgb.map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return luminance > 0.45 ? "#111" : "#fff";
}
