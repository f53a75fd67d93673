import { parseMarkdown, type Block, type Inline } from "./markdown";

/**
 * Renders `source` (untrusted model or visitor text) as DOM nodes of the markdown subset.
 * Text only ever becomes text nodes; links get `rel="noopener noreferrer nofollow"` and open
 * in a new tab.
 */
export function renderMarkdown(doc: Document, source: string): DocumentFragment {
  const fragment = doc.createDocumentFragment();
  for (const block of parseMarkdown(source)) fragment.append(renderBlock(doc, block));
  return fragment;
}

function renderBlock(doc: Document, block: Block): HTMLElement {
  switch (block.type) {
    case "paragraph": {
      const p = doc.createElement("p");
      appendInline(doc, p, block.children);
      return p;
    }
    case "list": {
      const list = doc.createElement(block.ordered ? "ol" : "ul");
      for (const item of block.items) {
        const li = doc.createElement("li");
        appendInline(doc, li, item);
        list.append(li);
      }
      return list;
    }
    case "code": {
      const pre = doc.createElement("pre");
      const code = doc.createElement("code");
      code.textContent = block.text;
      pre.append(code);
      return pre;
    }
  }
}

function appendInline(doc: Document, parent: HTMLElement, nodes: Inline[]): void {
  for (const node of nodes) {
    switch (node.type) {
      case "text":
        parent.append(doc.createTextNode(node.text));
        break;
      case "break":
        parent.append(doc.createElement("br"));
        break;
      case "code": {
        const code = doc.createElement("code");
        code.textContent = node.text;
        parent.append(code);
        break;
      }
      case "strong":
      case "em": {
        const element = doc.createElement(node.type);
        appendInline(doc, element, node.children);
        parent.append(element);
        break;
      }
      case "link": {
        const a = doc.createElement("a");
        a.setAttribute("href", node.href);
        a.setAttribute("rel", "noopener noreferrer nofollow");
        a.setAttribute("target", "_blank");
        appendInline(doc, a, node.children);
        parent.append(a);
        break;
      }
    }
  }
}
