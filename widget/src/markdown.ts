/**
 * The markdown subset a reply may use, parsed into plain data (rendered by `render-markdown.ts`):
 * paragraphs, `**bold**`, `*italics*` / `_italics_`, `-` and `1.` lists, `` `inline code` ``,
 * fenced code blocks, and `[links](https://…)` to http and https only; a `#` heading shows as a
 * bold paragraph (a chat bubble has no room for heading sizes). Anything else stays text.
 * An unfinished construct (a reply still streaming) shows as text until it closes, except a code
 * fence, which shows as code at once.
 */

export type Inline =
  | { type: "text"; text: string }
  | { type: "break" }
  | { type: "strong" | "em"; children: Inline[] }
  | { type: "code"; text: string }
  | { type: "link"; href: string; children: Inline[] };

export type Block =
  | { type: "paragraph"; children: Inline[] }
  | { type: "list"; ordered: boolean; items: Inline[][] }
  | { type: "code"; text: string };

const FENCE = /^\s*```/;
const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*\d{1,9}[.)]\s+(.*)$/;
const HEADING = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/;

/** Parses `source` into blocks. */
export function parseMarkdown(source: string): Block[] {
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  const blocks: Block[] = [];
  let paragraph: string[] = [];
  let list: { ordered: boolean; items: string[] } | null = null;

  const flush = () => {
    if (paragraph.length) blocks.push({ type: "paragraph", children: parseInline(paragraph.join("\n")) });
    if (list) blocks.push({ type: "list", ordered: list.ordered, items: list.items.map(parseInline) });
    paragraph = [];
    list = null;
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (FENCE.test(line)) {
      flush();
      const code: string[] = [];
      while (++i < lines.length && !FENCE.test(lines[i]!)) code.push(lines[i]!);
      blocks.push({ type: "code", text: code.join("\n") });
      continue;
    }
    if (!line.trim()) {
      flush();
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      flush();
      blocks.push({ type: "paragraph", children: [{ type: "strong", children: parseInline(heading[1]!) }] });
      continue;
    }
    const bullet = BULLET.exec(line);
    const numbered = bullet ? null : NUMBERED.exec(line);
    const item = bullet ?? numbered;
    if (item) {
      const ordered = numbered !== null;
      if (paragraph.length || (list && list.ordered !== ordered)) flush();
      list ??= { ordered, items: [] };
      list.items.push(item[1]!);
      continue;
    }
    if (list) {
      // A line under a list item continues it.
      list.items[list.items.length - 1] += `\n${line.trim()}`;
      continue;
    }
    paragraph.push(line);
  }
  flush();
  return blocks;
}

/** Parses inline markup: emphasis, code spans, links, and newlines as line breaks. */
export function parseInline(source: string): Inline[] {
  const out: Inline[] = [];
  let text = "";
  const pushText = () => {
    if (text) out.push({ type: "text", text });
    text = "";
  };

  let i = 0;
  while (i < source.length) {
    const char = source[i]!;
    if (char === "\n") {
      pushText();
      out.push({ type: "break" });
      i++;
      continue;
    }
    if (char === "\\" && i + 1 < source.length && /[\\`*_[\]()]/.test(source[i + 1]!)) {
      text += source[i + 1];
      i += 2;
      continue;
    }
    if (char === "`") {
      const close = source.indexOf("`", i + 1);
      if (close > i + 1) {
        pushText();
        out.push({ type: "code", text: source.slice(i + 1, close) });
        i = close + 1;
        continue;
      }
    }
    if (char === "*" || char === "_") {
      const double = source[i + 1] === char;
      const marker = double ? char + char : char;
      const close = findClosing(source, marker, i + marker.length);
      if (close >= 0 && opensEmphasis(source, i, marker)) {
        pushText();
        out.push({ type: double ? "strong" : "em", children: parseInline(source.slice(i + marker.length, close)) });
        i = close + marker.length;
        continue;
      }
    }
    if (char === "[") {
      const link = /^\[([^\]\n]+)\]\(([^()\s]+)\)/.exec(source.slice(i));
      if (link) {
        pushText();
        const href = safeHref(link[2]!);
        const children = parseInline(link[1]!);
        if (href) out.push({ type: "link", href, children });
        else out.push(...children);
        i += link[0].length;
        continue;
      }
    }
    text += char;
    i++;
  }
  pushText();
  return out;
}

/** `href` if it is an absolute http or https URL, else null (no `javascript:`, `data:` …). */
export function safeHref(href: string): string | null {
  try {
    const url = new URL(href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** An emphasis marker opens only before a non-space, and `_` only at a word's start (snake_case stays text). */
function opensEmphasis(source: string, at: number, marker: string): boolean {
  const next = source[at + marker.length];
  if (next === undefined || /\s/.test(next)) return false;
  return marker[0] !== "_" || at === 0 || !/[\p{L}\p{N}]/u.test(source[at - 1]!);
}

function findClosing(source: string, marker: string, from: number): number {
  let at = source.indexOf(marker, from);
  while (at >= 0) {
    const before = source[at - 1];
    const after = source[at + marker.length];
    const closesHere =
      at > from &&
      before !== undefined &&
      !/\s/.test(before) &&
      // `**` inside `*…*` is not its closing; `_` closes only at a word's end.
      (marker.length === 2 || after !== marker[0]) &&
      (marker[0] !== "_" || after === undefined || !/[\p{L}\p{N}]/u.test(after));
    if (closesHere) return at;
    at = source.indexOf(marker, at + 1);
  }
  return -1;
}

/** The text a reader sees in `source`, markup removed (for the screen-reader announcement). */
export function markdownToText(source: string): string {
  const inline = (nodes: Inline[]): string =>
    nodes.map((node) => (node.type === "text" || node.type === "code" ? node.text : node.type === "break" ? "\n" : inline(node.children))).join("");
  return parseMarkdown(source)
    .map((block) => (block.type === "code" ? block.text : block.type === "paragraph" ? inline(block.children) : block.items.map(inline).join("\n")))
    .join("\n");
}
