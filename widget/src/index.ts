/**
 * widget.js: the script a merchant embeds. It reads its options from its own `<script>` tag,
 * mounts `<parley-chat>` (open shadow root) and exposes `window.Parley`, replaying calls the
 * page queued before it loaded. Nothing else becomes global.
 */
import { WidgetApi } from "./api";
import { Chat, type ToolHandler } from "./chat";
import { findOwnScript, readOptions, type WidgetOptions } from "./options";
import { ConversationStore } from "./storage";
import { textColorOn } from "./styles";
import { loadTurnstile, runChallenge } from "./turnstile";
import { ChatView } from "./view";

/** Set by the build: the bundle's content hash. */
declare const __PARLEY_VERSION__: string;

/**
 * What `Parley.boot` takes: merged into the next session's `templateVars` and `metadata`;
 * `identityToken` (the merchant-signed token of a verified visitor) replaces `data-identity-token`.
 */
export interface BootOptions {
  templateVars?: Record<string, string>;
  metadata?: Record<string, unknown>;
  identityToken?: string;
}

/** `window.Parley`. */
export interface ParleyApi {
  readonly version: string;
  boot(options?: BootOptions): void;
  open(): void;
  close(): void;
  newConversation(): void;
  /** The page's context (e.g. `{ cart, product }`) for the assistant's next replies; replaces the last. */
  setContext(context: Record<string, unknown>): void;
  /**
   * Answers the calls of client tool `name` (declared by the template): `handler` gets the
   * model's arguments and returns (or resolves) the JSON result. A later call replaces it.
   */
  onToolCall(name: string, handler: ToolHandler): void;
}

type QueuedCall = [name: string, args: unknown[]];
type Stub = Partial<Record<keyof ParleyApi, unknown>> & { q?: QueuedCall[] };

declare global {
  interface Window {
    Parley?: ParleyApi | Stub;
  }
}

const ELEMENT = "parley-chat";

function start(): void {
  const existing = window.Parley;
  if (existing && "version" in existing) return; // loaded twice: the first copy serves
  const script = findOwnScript();
  let options: WidgetOptions;
  try {
    if (!script) throw new Error("parley: could not find the widget's <script> tag.");
    options = readOptions(script);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    return;
  }
  const queued = (existing as Stub | undefined)?.q ?? [];
  const store = new ConversationStore(options.publicKey);
  const boot = { templateVars: { ...options.templateVars }, metadata: {} as Record<string, unknown>, identityToken: options.identityToken };
  const toolHandlers = new Map<string, ToolHandler>();

  let host: HTMLElement | null = null;
  /** Until the launcher is mounted (the config call still in flight), page calls wait in the queue. */
  let mounted = false;
  const whenMounted = (name: keyof ParleyApi, run: () => void) => void (mounted ? host && run() : queued.push([name, []]));
  const chat = new Chat({
    api: new WidgetApi(options.apiBase),
    store,
    publicKey: options.publicKey,
    sessionInput: () => ({ templateVars: { ...boot.templateVars }, metadata: { ...boot.metadata }, ...(boot.identityToken ? { identityToken: boot.identityToken } : {}) }),
    toolHandlers,
    solveChallenge: async (siteKey, container) => runChallenge(await loadTurnstile(options.turnstileScript), container, siteKey),
    disable(reason) {
      console.error(reason);
      host?.remove();
      host = null;
    },
  });

  const api: ParleyApi = {
    version: __PARLEY_VERSION__,
    boot(next = {}) {
      Object.assign(boot.templateVars, next.templateVars);
      Object.assign(boot.metadata, next.metadata);
      if (next.identityToken) boot.identityToken = next.identityToken;
    },
    open: () => whenMounted("open", () => void chat.open()),
    close: () => whenMounted("close", () => chat.close(false)),
    newConversation: () => whenMounted("newConversation", () => void chat.newConversation()),
    setContext: (context) => chat.setContext(context),
    onToolCall: (name, handler) => void toolHandlers.set(name, handler),
  };
  window.Parley = api;

  // Asked at once, while the page is still parsing: a refused page never shows a launcher.
  const admitted = chat.admit();
  const mount = async () => {
    if (!(await admitted)) return;
    if (!customElements.get(ELEMENT)) customElements.define(ELEMENT, class extends HTMLElement {});
    host = document.createElement(ELEMENT);
    host.dataset.position = options.position;
    if (options.accent) {
      host.style.setProperty("--parley-accent", options.accent);
      const onAccent = textColorOn(options.accent);
      if (onAccent) host.style.setProperty("--parley-on-accent", onAccent);
    }
    const view = new ChatView(host, { title: options.title }, {
      open: () => void chat.open(),
      close: () => chat.close(true),
      send: (text) => void chat.send(text),
      stop: () => void chat.stop(),
      talk: (on) => void chat.talk(on),
      newConversation: () => void chat.newConversation(),
      remedy: () => chat.remedy(),
      decide: (approvalId, approved) => chat.decide(approvalId, approved),
    });
    chat.attach(view);
    document.body.append(host);
    // Restoring first: a queued open() then waits for the stored conversation instead of starting one.
    const restored = chat.restore();
    mounted = true;
    for (const [name, args] of queued) {
      const method = api[name as keyof ParleyApi];
      if (typeof method === "function") (method as (...a: unknown[]) => void).apply(api, args);
      else console.warn(`parley: unknown call Parley.${name}()`);
    }
    void restored.then(() => {
      if (options.openOnLoad && host) void chat.open(false);
    });
  };
  if (document.body) void mount();
  else document.addEventListener("DOMContentLoaded", () => void mount(), { once: true });
}

start();
