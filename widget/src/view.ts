import { h, icon, ICONS } from "./dom";
import type { Reply, ReplyStatus, Segment } from "./reply";
import { renderMarkdown } from "./render-markdown";
import { isQuietTool, toolActivity, type Notice } from "./sentences";
import { widgetStyleSheet } from "./styles";

/** What the visitor does, as the view reports it to the chat. */
export interface ViewEvents {
  open(): void;
  close(): void;
  send(text: string): void;
  stop(): void;
  /** Push-to-talk: the microphone button was pressed (true) or let go (false). */
  talk(on: boolean): void;
  newConversation(): void;
  /** The remedy button of the current notice was pressed. */
  remedy(): void;
  /** Approve or Deny was pressed on a tool call that needs the visitor's approval. */
  decide(approvalId: string, approved: boolean): void;
}

/** One message bubble in the transcript. */
export interface MessageView {
  /** Shows the reply as it stands (called for every few tokens; re-renders the bubble). */
  update(reply: Pick<Reply, "segments" | "status">): void;
  remove(): void;
}

const STATUS_MARK: Partial<Record<ReplyStatus, string>> = {
  stopped: "Stopped",
  cut: "Connection lost — this reply may be incomplete",
};

/**
 * The widget's DOM inside the shadow root of `host`: launcher, and a panel with header,
 * transcript (`role="log"`), notices, quick replies and composer. It holds no conversation
 * state; the chat drives it.
 */
export class ChatView {
  readonly #root: ShadowRoot;
  readonly #events: ViewEvents;
  readonly #launcher: HTMLButtonElement;
  readonly #panel: HTMLElement;
  readonly #log: HTMLElement;
  readonly #notice: HTMLElement;
  readonly #challenge: HTMLElement;
  readonly #quick: HTMLElement;
  readonly #composer: HTMLFormElement;
  readonly #input: HTMLTextAreaElement;
  readonly #send: HTMLButtonElement;
  readonly #mic: HTMLButtonElement;
  readonly #announcer: HTMLElement;
  #streaming = false;
  #textInput = true;
  #voice = false;

  constructor(host: HTMLElement, { title }: { title: string }, events: ViewEvents) {
    this.#events = events;
    this.#root = host.attachShadow({ mode: "open" });
    this.#root.adoptedStyleSheets = [widgetStyleSheet()];

    this.#launcher = h("button", { type: "button", class: "launcher", "aria-label": "Open chat", "aria-haspopup": "dialog" }, icon(ICONS.chat));
    this.#launcher.addEventListener("click", () => events.open());

    const titleId = "parley-title";
    const closeButton = h("button", { type: "button", class: "icon-button", "aria-label": "Close chat" }, icon(ICONS.close));
    closeButton.addEventListener("click", () => events.close());
    const restart = h("button", { type: "button", class: "icon-button", "aria-label": "New conversation", title: "New conversation" }, icon(ICONS.restart));
    restart.addEventListener("click", () => events.newConversation());

    this.#log = h("div", { class: "log", role: "log", "aria-label": "Conversation", "aria-live": "off", tabindex: "0" });
    this.#notice = h("div", { class: "notice", role: "alert", hidden: true });
    // The challenge itself lives in the light DOM (see showChallenge), shown here through a slot.
    this.#challenge = h("div", { class: "challenge", hidden: true }, h("slot", { name: "challenge" }));
    this.#quick = h("div", { class: "quick", role: "group", "aria-label": "Suggested replies", hidden: true });
    this.#input = h("textarea", { rows: "1", "aria-label": "Message", placeholder: "Type a message…", maxlength: "4000", enterkeyhint: "send" });
    this.#send = h("button", { type: "submit", class: "send" });
    this.#mic = h("button", { type: "button", class: "send", "aria-label": "Hold to talk", "aria-pressed": "false", hidden: true }, icon(ICONS.mic));
    // Held (pointer), or pressed once to start and once to stop (keyboard: a click without a pointer).
    this.#mic.addEventListener("pointerdown", () => events.talk(true));
    for (const end of ["pointerup", "pointerleave"]) this.#mic.addEventListener(end, () => events.talk(false));
    this.#mic.addEventListener("click", (event) => event.detail || events.talk(this.#mic.ariaPressed !== "true"));
    this.#composer = h("form", { class: "composer" }, this.#input, this.#mic, this.#send);
    this.#announcer = h("div", { class: "sr-only", role: "status", "aria-live": "polite" });

    this.#panel = h(
      "div",
      { class: "panel", role: "dialog", "aria-modal": "false", "aria-labelledby": titleId, hidden: true },
      h("div", { class: "header" }, h("h2", { class: "title", id: titleId }, title), restart, closeButton),
      this.#log,
      this.#challenge,
      this.#notice,
      this.#quick,
      this.#composer,
      this.#announcer,
    );
    this.#root.append(this.#launcher, this.#panel);
    this.#renderSendButton();

    this.#composer.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.#streaming) events.stop();
      else this.#submit();
    });
    this.#input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        if (!this.#streaming) this.#submit();
      }
    });
    this.#input.addEventListener("input", () => this.#fitInput());
    this.#panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.stopPropagation();
        events.close();
      }
    });
  }

  /**
   * Shows the panel; `takeFocus` moves focus into it (the visitor opened it). A panel opened by
   * the page itself (on load, after a reload) leaves focus where it is.
   */
  open(takeFocus: boolean): void {
    this.#panel.hidden = false;
    this.#launcher.hidden = true;
    this.#scrollToEnd();
    if (takeFocus) this.#focusInput();
  }

  /** Hides the panel; `returnFocus` puts focus back on the launcher. */
  close(returnFocus: boolean): void {
    this.#panel.hidden = true;
    this.#launcher.hidden = false;
    if (returnFocus) this.#launcher.focus();
  }

  /**
   * Puts focus back on the input (or the first quick reply without one) if the visitor is in
   * the widget: focus elsewhere on the page is never pulled away.
   */
  focusComposer(): void {
    if (this.#panel.hidden || !this.#root.activeElement) return;
    this.#focusInput();
  }

  #focusInput(): void {
    if (this.#textInput) this.#input.focus();
    else (this.#quick.querySelector("button:not(:disabled)") as HTMLButtonElement | null)?.focus();
  }

  /** Removes everything the widget shows (an origin that is not allowed, an unknown key). */
  remove(): void {
    this.#root.replaceChildren();
  }

  /** Shows or hides the text input (`textInput` of the template). */
  setTextInput(enabled: boolean): void {
    const hadFocus = this.#root.activeElement === this.#input;
    this.#textInput = enabled;
    this.#input.hidden = !enabled;
    this.#renderSendButton();
    // Hiding the focused input would drop focus to the page: the quick replies take it.
    if (hadFocus && !enabled) this.#focusInput();
  }

  setQuickReplies(replies: readonly string[]): void {
    this.#quick.replaceChildren(
      ...replies.map((text) => {
        const button = h("button", { type: "button" }, text);
        button.addEventListener("click", () => !this.#streaming && this.#events.send(text));
        return button;
      }),
    );
    this.#renderQuickReplies();
  }

  /** While a reply streams: the send button becomes Stop, quick replies wait, the log is busy. */
  setStreaming(streaming: boolean): void {
    this.#streaming = streaming;
    this.#log.setAttribute("aria-busy", String(streaming));
    this.#renderSendButton();
    this.#renderQuickReplies();
  }

  /** Shows the microphone button (`voiceInput` of the template). */
  setVoiceInput(enabled: boolean): void {
    this.#mic.hidden = !enabled;
  }

  /** While recording, the microphone button is pressed. */
  setRecording(recording: boolean): void {
    this.#mic.ariaPressed = String(recording);
  }

  /** While a voice call is attached: the input, Send and quick replies are disabled. */
  setVoice(voice: boolean): void {
    this.#voice = voice;
    this.#input.disabled = this.#send.disabled = this.#mic.disabled = voice;
    this.#renderQuickReplies();
  }

  /** Removes every message (a new conversation). */
  clearTranscript(): void {
    this.#log.replaceChildren();
    this.showNotice(null);
  }

  /** A visitor message bubble. */
  addUserMessage(text: string): MessageView {
    const bubble = h("div", { class: "message user" }, text);
    this.#log.append(bubble);
    this.#scrollToEnd();
    return { update: () => {}, remove: () => bubble.remove() };
  }

  /** An assistant bubble; with no segments yet it shows a typing indicator. */
  addAssistantMessage(): MessageView {
    const bubble = h("div", { class: "message assistant" });
    this.#log.append(bubble);
    const view: MessageView = {
      update: (reply) => {
        const stickToEnd = this.#isAtEnd();
        bubble.replaceChildren(...renderSegments(reply.segments, reply.status, this.#events));
        if (stickToEnd) this.#scrollToEnd();
      },
      remove: () => bubble.remove(),
    };
    view.update({ segments: [], status: "streaming" });
    return view;
  }

  /** A notice under the transcript (null hides it); `remedyLabel` names its button. */
  showNotice(notice: (Notice & { remedyLabel?: string }) | null): void {
    if (!notice) {
      this.#notice.hidden = true;
      this.#notice.replaceChildren();
      return;
    }
    const children: Node[] = [h("span", {}, notice.text)];
    if (notice.remedy !== "none") {
      const label = notice.remedyLabel ?? (notice.remedy === "retry" ? "Retry" : "Start a new conversation");
      const button = h("button", { type: "button" }, label);
      button.addEventListener("click", () => this.#events.remedy());
      children.push(button);
    }
    this.#notice.replaceChildren(...children);
    this.#notice.hidden = false;
    this.#scrollToEnd();
  }

  /**
   * Answers a fresh, empty element for a Turnstile challenge to render into, replacing the
   * previous one. It is a light-DOM child of the host, slotted under the transcript: Turnstile's
   * script has not always handled a container inside a shadow root, and a slotted element is in
   * the document as any other.
   */
  showChallenge(): HTMLElement {
    this.hideChallenge();
    const box = h("div", { slot: "challenge" });
    this.#root.host.append(box);
    this.#challenge.hidden = false;
    this.#scrollToEnd();
    return box;
  }

  hideChallenge(): void {
    this.#challenge.hidden = true;
    for (const box of this.#root.host.querySelectorAll(":scope > [slot=challenge]")) box.remove();
  }

  /** Says `text` once to screen readers (the finished reply, not every token). */
  announce(text: string): void {
    this.#announcer.textContent = text;
  }

  /** Puts `text` back into the input (a message that could not be sent). */
  restoreDraft(text: string): void {
    if (!this.#input.value) this.#input.value = text;
    this.#fitInput();
  }

  #submit(): void {
    const text = this.#input.value.trim();
    if (!text) return;
    this.#input.value = "";
    this.#fitInput();
    this.#events.send(text);
  }

  #renderSendButton(): void {
    const label = this.#streaming ? "Stop" : "Send";
    this.#send.className = this.#streaming ? "send stop" : "send";
    this.#send.setAttribute("aria-label", label);
    this.#send.replaceChildren(icon(this.#streaming ? ICONS.stop : ICONS.send), h("span", { class: "sr-only" }, label));
    // Without a text input the composer holds only Stop, while a reply streams.
    this.#composer.hidden = !this.#textInput && !this.#streaming;
  }

  #renderQuickReplies(): void {
    const buttons = this.#quick.querySelectorAll("button");
    this.#quick.hidden = buttons.length === 0;
    buttons.forEach((button) => (button.disabled = this.#streaming || this.#voice));
  }

  #fitInput(): void {
    this.#input.style.height = "auto";
    this.#input.style.height = `${Math.min(this.#input.scrollHeight + 2, 140)}px`;
  }

  #isAtEnd(): boolean {
    const log = this.#log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < 48;
  }

  #scrollToEnd(): void {
    this.#log.scrollTop = this.#log.scrollHeight;
  }
}


/** A tool call waiting for the visitor's approval (Approve / Deny), or the decision made. */
function approvalCard({ name, approval }: Extract<Segment, { kind: "tool" }>, events: ViewEvents): Node {
  const words = name.replace(/[_-]+/g, " ");
  if (approval!.state !== "pending") return h("div", { class: "tool done" }, `${words}: ${approval!.state === "approved" ? "Approved" : "Denied"}`);
  const button = (label: string, approved: boolean) => {
    const element = h("button", { type: "button" }, label);
    element.addEventListener("click", () => events.decide(approval!.id, approved));
    return element;
  };
  return h("div", { class: "approval", role: "group", "aria-label": "Approval" }, h("span", {}, `Allow “${words}”?`), button("Approve", true), button("Deny", false));
}

function renderSegments(segments: readonly Segment[], status: ReplyStatus, events: ViewEvents): Node[] {
  const nodes: Node[] = [];
  for (const segment of segments) {
    if (segment.kind === "text") {
      if (segment.text) nodes.push(h("div", { class: "body" }, renderMarkdown(document, segment.text)));
    } else {
      if (segment.approval) nodes.push(approvalCard(segment, events));
      // Until approved nothing ran: the card says all there is.
      const ran = !segment.approval || segment.approval.state === "approved";
      if (ran && !isQuietTool(segment.name)) nodes.push(h("div", { class: segment.done ? "tool done" : "tool" }, toolActivity(segment.name, segment.done)));
    }
  }
  const hasText = segments.some((s) => s.kind === "text" && s.text);
  if (status === "streaming" && !hasText && !segments.some((s) => s.kind === "tool" && !s.done && !isQuietTool(s.name) && !s.approval)) {
    nodes.push(h("span", { class: "typing" }, h("span", { class: "sr-only" }, "The assistant is typing"), h("i"), h("i"), h("i")));
  }
  const mark = STATUS_MARK[status];
  if (mark) nodes.push(h("span", { class: "mark" }, mark));
  return nodes;
}
