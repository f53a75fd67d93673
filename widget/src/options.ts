import { TURNSTILE_SCRIPT } from "./turnstile";

/** The widget's settings, read from the attributes of its `<script>` tag. */
export interface WidgetOptions {
  publicKey: string;
  /** The widget API root: `<origin of the script's src>/v1/widget`. */
  apiBase: string;
  /** Panel header and the dialog's accessible name. @default "Chat" */
  title: string;
  /** Any CSS colour; launcher, header, visitor bubbles and buttons. */
  accent: string | null;
  /** @default "right" */
  position: "left" | "right";
  /** Open the panel as soon as the page loads (this creates a session). @default false */
  openOnLoad: boolean;
  /** Where Turnstile's script is loaded from (`data-turnstile-script`), for a widget with a challenge. */
  turnstileScript: string;
  /** `data-var-shop-name="Acme"` → `{ shopName: "Acme" }`. */
  templateVars: Record<string, string>;
  /** `data-identity-token`: the merchant-signed identity token of a verified visitor. */
  identityToken: string | undefined;
}

/** Reads the options of `script`; throws naming the missing attribute. */
export function readOptions(script: HTMLScriptElement): WidgetOptions {
  const data = script.dataset;
  const publicKey = data.publicKey?.trim();
  if (!publicKey) throw new Error('parley: the widget\'s <script> tag needs data-public-key="pk_…".');
  const templateVars: Record<string, string> = {};
  for (const [key, value] of Object.entries(data)) {
    // dataset turns data-var-shop-name into varShopName.
    if (key.length > 3 && key.startsWith("var") && value !== undefined) templateVars[key[3]!.toLowerCase() + key.slice(4)] = value;
  }
  return {
    publicKey,
    apiBase: new URL("v1/widget", new URL(".", script.src)).href,
    title: data.title?.trim() || "Chat",
    accent: data.accent?.trim() || null,
    position: data.position === "left" ? "left" : "right",
    openOnLoad: data.open === "" || data.open === "true",
    turnstileScript: data.turnstileScript?.trim() || TURNSTILE_SCRIPT,
    templateVars,
    identityToken: data.identityToken?.trim() || undefined,
  };
}

/** The `<script>` tag that loaded the widget. */
export function findOwnScript(): HTMLScriptElement | null {
  const current = document.currentScript;
  if (current instanceof HTMLScriptElement && current.dataset.publicKey !== undefined) return current;
  return document.querySelector<HTMLScriptElement>("script[data-public-key][src*='widget']");
}
