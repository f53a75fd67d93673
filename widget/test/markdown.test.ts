import { describe, expect, it } from "vitest";
import { markdownToText, parseInline, parseMarkdown, safeHref } from "../src/markdown";

describe("parseMarkdown", () => {
  it("splits paragraphs at blank lines and keeps single newlines as breaks", () => {
    expect(parseMarkdown("one\ntwo\n\nthree")).toEqual([
      { type: "paragraph", children: [{ type: "text", text: "one" }, { type: "break" }, { type: "text", text: "two" }] },
      { type: "paragraph", children: [{ type: "text", text: "three" }] },
    ]);
  });

  it("reads bullet and numbered lists, a paragraph before them ending at the first item", () => {
    expect(parseMarkdown("Options:\n- red\n* blue\n\n1. first\n2) second")).toEqual([
      { type: "paragraph", children: [{ type: "text", text: "Options:" }] },
      { type: "list", ordered: false, items: [[{ type: "text", text: "red" }], [{ type: "text", text: "blue" }]] },
      { type: "list", ordered: true, items: [[{ type: "text", text: "first" }], [{ type: "text", text: "second" }]] },
    ]);
  });

  it("shows a heading as a bold paragraph of its own", () => {
    expect(parseMarkdown("## Your order\nIt shipped.")).toEqual([
      { type: "paragraph", children: [{ type: "strong", children: [{ type: "text", text: "Your order" }] }] },
      { type: "paragraph", children: [{ type: "text", text: "It shipped." }] },
    ]);
  });

  it("keeps fenced code verbatim, and shows an unclosed fence (still streaming) as code", () => {
    expect(parseMarkdown("```ts\nconst a = **1**;\n```\nafter")).toEqual([
      { type: "code", text: "const a = **1**;" },
      { type: "paragraph", children: [{ type: "text", text: "after" }] },
    ]);
    expect(parseMarkdown("```\npartial <b>")).toEqual([{ type: "code", text: "partial <b>" }]);
  });
});

describe("parseInline", () => {
  it("reads bold, italics and inline code", () => {
    expect(parseInline("**bold** and *it* and _it_ and `a*b*`")).toEqual([
      { type: "strong", children: [{ type: "text", text: "bold" }] },
      { type: "text", text: " and " },
      { type: "em", children: [{ type: "text", text: "it" }] },
      { type: "text", text: " and " },
      { type: "em", children: [{ type: "text", text: "it" }] },
      { type: "text", text: " and " },
      { type: "code", text: "a*b*" },
    ]);
  });

  it("leaves snake_case, lone stars and unclosed markers as text", () => {
    expect(parseInline("get_order_status costs 2 * 3 and **half")).toEqual([{ type: "text", text: "get_order_status costs 2 * 3 and **half" }]);
  });

  it("links http and https only; other schemes keep just their label", () => {
    expect(parseInline("[shop](https://example.com/a?b=1) [x](javascript:alert`1`) [y](data:text/html,hi)")).toEqual([
      { type: "link", href: "https://example.com/a?b=1", children: [{ type: "text", text: "shop" }] },
      { type: "text", text: " " },
      { type: "text", text: "x" },
      { type: "text", text: " " },
      { type: "text", text: "y" },
    ]);
  });

  it("keeps markup-looking text as text", () => {
    expect(parseInline("<img src=x onerror=alert(1)>")).toEqual([{ type: "text", text: "<img src=x onerror=alert(1)>" }]);
  });
});

describe("safeHref", () => {
  it("accepts absolute http(s) URLs only", () => {
    expect(safeHref("http://a.example/")).toBe("http://a.example/");
    expect(safeHref("JavaScript:alert(1)")).toBeNull();
    expect(safeHref("/relative")).toBeNull();
  });
});

describe("markdownToText", () => {
  it("keeps what a reader sees, one line per block or item", () => {
    expect(markdownToText("**Hi** [shop](https://a.example/)\n\n- one\n- `two`")).toBe("Hi shop\none\ntwo");
  });
});
