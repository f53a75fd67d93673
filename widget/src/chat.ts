import type { ApiFailure, CreatedSession, SessionCredentials, SessionState, TurnRequest, WidgetApi } from "./api";
import { markdownToText } from "./markdown";
import { PageContextSync } from "./page-context";
import { applyPart, emptyReply, finishReply, replyText, segmentsFromParts, type Reply } from "./reply";
import { CHALLENGE_FAILED, CHALLENGE_RUNNING, describeFailure, describeStreamError, MICROPHONE_UNAVAILABLE, VOICE_CALL } from "./sentences";
import { record } from "./recorder";
import type { ConversationStore } from "./storage";
import { readStreamParts } from "./stream-reader";
import type { ChatView, MessageView } from "./view";

/** How often the widget asks whether a voice call is over, while one is attached, in ms. */
export const VOICE_POLL_MS = 4_000;

/** How long to wait before the one retry of a turn refused with `turn_in_progress`, in ms. */
export const TURN_IN_PROGRESS_RETRY_MS = 1_500;

/**
 * How long a refused origin is remembered, in ms: later page views show no launcher at all.
 * Short, so a merchant who fixes the allow-list sees the widget again soon.
 */
export const ORIGIN_REFUSAL_MEMORY_MS = 60 * 60 * 1_000;

export interface ChatOptions {
  api: WidgetApi;
  store: ConversationStore;
  publicKey: string;
  /** Template variables, metadata and identity token for the next session (data-* merged with `Parley.boot`). */
  sessionInput(): { templateVars: Record<string, string>; metadata: Record<string, unknown>; identityToken?: string };
  /**
   * Runs the Turnstile challenge of `siteKey` in `container` (an element in the panel) and
   * answers its token; rejects when it cannot be passed.
   */
  solveChallenge(siteKey: string, container: HTMLElement): Promise<string>;
  /** The widget cannot work here (origin not allowed, unknown key): remove it and say why. */
  disable(reason: string): void;
  /** The page's client tool handlers, by tool name. */
  toolHandlers: Map<string, ToolHandler>;
}

/** `resume`: the reply in flight when the page loaded, streamed again from its start. */
type Turn = TurnRequest | { kind: "resume" };

/** A handler of a client tool (`Parley.onToolCall`): its arguments in, its JSON result out. */
export type ToolHandler = (args: unknown) => unknown;

/** The widget's own limit on a tool result, a little under the server's 16 KB. */
const MAX_TOOL_RESULT_CHARS = 16_000;

/**
 * One visitor's conversation with a widget: creates the session on first open, restores it
 * after a reload, runs turns and streams replies into the view, and turns every failure into a
 * notice the visitor can act on.
 */
export class Chat {
  readonly #options: ChatOptions;
  #view!: ChatView;
  #session: SessionCredentials | null = null;
  #isOpen = false;
  /** The session is being created or restored: one at a time. */
  #starting: Promise<void> | null = null;
  #streaming: { abort: AbortController; stopRequested: boolean } | null = null;
  /** What the notice's button does. */
  #remedy: (() => void) | null = null;
  readonly #context: PageContextSync;
  /** Set while the microphone records (push-to-talk). */
  #recording: Promise<(() => Promise<Blob | null>) | null> | null = null;
  /** Set while a voice call is attached: the poll that notices its end. */
  #voicePoll = 0;
  /** The last assistant reply: an approval or a tool result continues it in its bubble. */
  #last: { bubble: MessageView; reply: Reply } | null = null;

  constructor(options: ChatOptions) {
    this.#options = options;
    this.#context = new PageContextSync(options.api);
  }

  /** `Parley.setContext`: the page's context, for this session's next turns and any later session's. */
  setContext(context: unknown): void {
    this.#context.set(context, this.#session);
  }

  attach(view: ChatView): void {
    this.#view = view;
  }

  /**
   * On page load: the stored conversation, if any, comes back (`GET /session/:id`). An expired
   * token or an ended session is forgotten; the next open starts a new one. Costs no session.
   */
  restore(): Promise<void> {
    const stored = this.#options.store.load();
    if (!stored) return Promise.resolve();
    this.#starting = this.#restore(stored, stored.open === true).finally(() => (this.#starting = null));
    return this.#starting;
  }

  /**
   * On page load, before any launcher: whether this page may show the widget
   * (`GET /config`, no session). A refused origin (remembered for an hour, or answered now) or an
   * unknown key disables the widget and answers false. No answer (network, 503) answers true:
   * the launcher shows, and the session create says what is wrong.
   */
  async admit(): Promise<boolean> {
    const { api, store, publicKey } = this.#options;
    if (store.originRefused()) {
      this.#options.disable(originRefusal(publicKey));
      return false;
    }
    const result = await api.config(publicKey);
    return result.ok || !this.#refusedHere(result.failure);
  }

  /** Opens the panel; `takeFocus` when the visitor asked for it (launcher, a page button). */
  async open(takeFocus = true): Promise<void> {
    if (this.#isOpen) return;
    this.#isOpen = true;
    this.#view.open(takeFocus);
    this.#remember();
    if (this.#starting) await this.#starting;
    if (!this.#session && this.#isOpen) await this.#start();
  }

  close(returnFocus = true): void {
    if (!this.#isOpen) return;
    this.#isOpen = false;
    this.#view.close(returnFocus);
    this.#remember();
  }

  /** Ends the current conversation (`/end`) and starts another. */
  async newConversation(): Promise<void> {
    if (this.#starting) await this.#starting;
    const session = this.#session;
    this.#streaming?.abort.abort();
    this.#session = null;
    this.#options.store.clear();
    this.#leaveVoice();
    this.#view.clearTranscript();
    this.#last = null;
    this.#view.setStreaming(false);
    // The old conversation is over for the visitor even if /end does not get through.
    if (session) await this.#options.api.end(session);
    if (this.#isOpen) await this.#start();
  }

  /** Sends the visitor's message and streams the reply. */
  async send(text: string): Promise<void> {
    if (this.#streaming) return;
    if (this.#starting) await this.#starting;
    if (!this.#session) {
      await this.#start();
      if (!this.#session) {
        this.#view.restoreDraft(text);
        return;
      }
    }
    const turn: Turn = { kind: "message", id: newMessageId(), text };
    // Writing instead of deciding denies a pending approval (the server tells the model): the card stops asking.
    const last = this.#last;
    if (last) {
      last.reply = { ...last.reply, segments: last.reply.segments.map((s) => (s.kind === "tool" && s.approval?.state === "pending" ? { ...s, approval: { ...s.approval, state: "denied" } } : s)) };
      last.bubble.update(last.reply);
    }
    const bubble = this.#view.addUserMessage(text);
    const ok = await this.#runTurn(turn);
    if (!ok) {
      bubble.remove();
      this.#view.restoreDraft(text);
    }
  }

  /**
   * Push-to-talk: records while the microphone button is held, then puts the recording's text
   * (`/transcribe`) into the input for the visitor to check and send.
   */
  async talk(on: boolean): Promise<void> {
    const session = this.#session;
    if (on === !!this.#recording || !session) return;
    this.#view.setRecording(on);
    if (on) {
      this.#recording = record().catch(() => {
        this.#recording = null;
        this.#view.setRecording(false);
        this.#view.showNotice({ text: MICROPHONE_UNAVAILABLE, remedy: "none" });
        return null;
      });
      return;
    }
    const stop = await this.#recording;
    this.#recording = null;
    const audio = stop && (await stop());
    const result = audio && (await this.#options.api.transcribe(session, audio));
    if (result && result.ok) {
      // Into the input, for the visitor to check and send (an unsent draft is kept).
      this.#view.restoreDraft(result.value.text);
      this.#view.focusComposer();
    }
    else if (result) this.#view.showNotice({ ...describeFailure(result.failure), remedy: "none" });
  }

  /** Asks the server to stop the reply in flight; the stream then ends as stopped. */
  async stop(): Promise<void> {
    const streaming = this.#streaming;
    if (!streaming || streaming.stopRequested || !this.#session) return;
    streaming.stopRequested = true;
    const result = await this.#options.api.cancel(this.#session);
    // Without the server's word the stream would go on: stop reading it here.
    if (!result.ok) streaming.abort.abort();
  }

  /** Approve or Deny on an approval card: the reply goes on in its bubble. */
  decide(approvalId: string, approved: boolean): void {
    void this.#runTurn({ kind: "approval", approvalId, approved });
  }

  /**
   * Answers the first call of this page's tools the last reply waits for, with the page's
   * handler (`Parley.onToolCall`), or with an error the model can read when there is none: a
   * conversation never hangs on the browser.
   */
  async #answerTools(): Promise<void> {
    const call = this.#last?.reply.segments.find((s) => s.kind === "tool" && !s.done && !s.approval);
    if (call?.kind !== "tool") return;
    const handler = this.#options.toolHandlers.get(call.name);
    let output: unknown;
    try {
      if (!handler) throw new Error(`This page has no handler for the tool "${call.name}".`);
      output = await handler(call.input ?? {});
      if ((JSON.stringify(output) ?? "").length > MAX_TOOL_RESULT_CHARS) throw new Error(`The page's result for "${call.name}" is too large.`);
    } catch (error) {
      output = { error: String(error) };
    }
    await this.#runTurn({ kind: "tool-result", toolCallId: call.id, output: output ?? null });
  }

  /** The notice's button: retry, or start a new conversation. */
  remedy(): void {
    const remedy = this.#remedy;
    this.#remedy = null;
    this.#view.showNotice(null);
    remedy?.();
  }

  async #restore(stored: SessionCredentials & { visitor?: string }, reopen: boolean): Promise<void> {
    const result = await this.#options.api.getSession(stored);
    // Another visitor signed in on this browser (or out): their conversation is not this page's.
    if (stored.visitor !== tokenSubject(this.#options.sessionInput().identityToken)) {
      this.#options.store.clear();
      return;
    }
    if (!result.ok) {
      // An expired token, an unknown session: forget it. Unreachable: keep it for the next load.
      if (result.failure.kind === "http" && result.failure.status < 500) this.#options.store.clear();
      if (result.failure.kind === "http" && result.failure.code === "origin_not_allowed") this.#refuseOrigin();
      return;
    }
    if (result.value.status !== "active") {
      this.#options.store.clear();
      return;
    }
    this.#session = { sessionId: stored.sessionId, token: stored.token };
    this.#context.sessionChanged(this.#session);
    this.#showState(result.value);
    if (result.value.channel === "voice") this.#enterVoice();
    if (reopen) queueMicrotask(() => void this.open(false));
    // A last reply that waits for this page's tools (the page reloaded before it answered): answer
    // them now. A reload mid-reply: the reply in flight (none stored after the visitor's message,
    // or no greeting yet) is streamed again from its start. No greeting and no turn in flight: write it now.
    const last = result.value.messages.at(-1);
    if (last?.role === "assistant") void this.#answerTools();
    else {
      void this.#runTurn({ kind: "resume" }).then((resumed) => {
        if (!resumed && !last) void this.#runTurn({ kind: "initial" }, { quietConflict: true });
      });
    }
  }

  #showState(state: SessionState): void {
    this.#view.setQuickReplies(state.quickReplies);
    this.#view.setTextInput(state.textInput);
    this.#view.setVoiceInput(!!state.voiceInput);
    for (const message of state.messages) {
      if (message.role === "user") this.#view.addUserMessage(message.text);
      else if (message.role === "assistant") {
        const status = message.status === "canceled" ? "stopped" : message.status === "interrupted" ? "cut" : "complete";
        const reply: Reply = { segments: segmentsFromParts(message.parts, message.awaiting?.clientCalls), status, ended: true };
        const bubble = this.#view.addAssistantMessage();
        bubble.update(reply);
        this.#last = { bubble, reply };
      }
    }
  }

  /** Creates the session (first open), shows the greeting or streams the model's. */
  #start(): Promise<void> {
    if (this.#starting) return this.#starting;
    this.#starting = this.#create().finally(() => (this.#starting = null));
    return this.#starting;
  }

  async #create(turnstileToken?: string): Promise<void> {
    const { api, publicKey } = this.#options;
    const result = await api.createSession({ publicKey, ...this.#options.sessionInput(), ...(turnstileToken ? { turnstileToken } : {}) });
    if (!result.ok) {
      const failure = result.failure;
      // The widget asks for Turnstile: pass it, then create again with its token.
      if (!turnstileToken && failure.kind === "http" && failure.code === "challenge_required" && failure.siteKey) {
        return this.#passChallenge(failure.siteKey);
      }
      this.#createFailed(failure);
      return;
    }
    const created: CreatedSession = result.value;
    this.#session = { sessionId: created.sessionId, token: created.token };
    this.#context.sessionChanged(this.#session);
    const visitor = created.visitorId ?? undefined;
    this.#options.store.save({ sessionId: created.sessionId, token: created.token, expiresAt: created.expiresAt, open: this.#isOpen, ...(visitor ? { visitor } : {}) });
    this.#view.showNotice(null);
    // The visitor's conversation from another device: show its transcript.
    if (created.resumed) return this.#restore({ ...this.#session, ...(visitor ? { visitor } : {}) }, false);
    this.#view.setQuickReplies(created.quickReplies);
    this.#view.setTextInput(created.textInput);
    this.#view.setVoiceInput(!!created.voiceInput);
    this.#view.focusComposer();
    if (created.greeting) {
      this.#view.addAssistantMessage().update({ segments: [{ kind: "text", id: "greeting", text: created.greeting }], status: "complete" });
      this.#view.announce(markdownToText(created.greeting));
    } else if (created.initialTurn === "llm") {
      // Not awaited: the visitor may type while the greeting streams.
      void this.#runTurn({ kind: "initial" }, { quietConflict: true });
    }
  }

  /**
   * Shows the challenge in the panel with a sentence on what is happening. A challenge that
   * cannot be passed says so with a retry, which asks the server again (a fresh challenge).
   */
  async #passChallenge(siteKey: string): Promise<void> {
    this.#view.showNotice({ text: CHALLENGE_RUNNING, remedy: "none" });
    this.#view.announce(CHALLENGE_RUNNING);
    let token: string;
    try {
      token = await this.#options.solveChallenge(siteKey, this.#view.showChallenge());
    } catch {
      this.#view.hideChallenge();
      return this.#notify({ text: CHALLENGE_FAILED, remedy: "retry" }, () => void this.#start());
    }
    this.#view.hideChallenge();
    this.#view.showNotice(null);
    await this.#create(token);
  }

  #createFailed(failure: ApiFailure): void {
    if (!this.#refusedHere(failure)) this.#notify(describeFailure(failure), () => void this.#start());
  }

  /** A failure saying the widget cannot work on this page at all: disables it and answers true. */
  #refusedHere(failure: ApiFailure): boolean {
    if (failure.kind !== "http") return false;
    if (failure.code === "origin_not_allowed") this.#refuseOrigin();
    else if (failure.code === "widget_not_found") {
      this.#options.disable(
        `parley: no active widget has the public key "${this.#options.publicKey}". Check the data-public-key attribute of the widget's <script> tag.`,
      );
    } else return false;
    return true;
  }

  #refuseOrigin(): void {
    this.#options.store.refuseOrigin(Date.now() + ORIGIN_REFUSAL_MEMORY_MS);
    this.#options.disable(originRefusal(this.#options.publicKey));
  }

  /**
   * Runs one turn and streams its reply into a new bubble. Answers false when the turn was
   * refused before it started (the message was not taken), true once a stream was read.
   */
  async #runTurn(turn: Turn, { quietConflict = false, attempt = 0 } = {}): Promise<boolean> {
    const session = this.#session;
    if (!session || this.#streaming) return false;
    const streaming = { abort: new AbortController(), stopRequested: false };
    this.#streaming = streaming;
    this.#view.showNotice(null);
    this.#view.setStreaming(true);
    const last = turn.kind === "approval" || turn.kind === "tool-result" ? this.#last : null;
    const bubble = last?.bubble ?? this.#view.addAssistantMessage();

    // The turn reads the context the page set before it: a push still on its way goes first.
    this.#context.push(session);
    await this.#context.settled();
    const { api } = this.#options;
    const result = turn.kind === "resume" ? await api.resume(session, streaming.abort.signal) : await api.startTurn(session, turn, streaming.abort.signal);
    if (!result.ok || !result.value) {
      if (!last) bubble.remove();
      this.#streaming = null;
      this.#view.setStreaming(false);
      // Nothing to resume, or it could not be asked: quietly nothing.
      return turn.kind !== "resume" && !result.ok && this.#turnRefused(turn, result.failure, { quietConflict, attempt });
    }

    let reply: Reply = last ? { ...last.reply, status: "streaming", ended: false, awaitingTools: false } : emptyReply();
    let frame = 0;
    const render = () => {
      frame = 0;
      bubble.update(reply);
    };
    try {
      for await (const part of readStreamParts(result.value)) {
        reply = applyPart(reply, part);
        // One render per frame however fast tokens arrive.
        frame ||= requestAnimationFrame(render);
      }
    } catch {
      // The stream broke (network) or was aborted by a Stop the server did not hear.
    }
    cancelAnimationFrame(frame);
    // A new conversation took over meanwhile: this reply's bubble is gone, and so is its turn.
    if (this.#streaming !== streaming) return true;
    reply = finishReply(reply);
    if (reply.status === "cut" && streaming.stopRequested) reply = { ...reply, status: "stopped" };
    bubble.update(reply);
    if (!reply.segments.length && reply.status === "failed") bubble.remove();

    this.#streaming = null;
    this.#last = { bubble, reply };
    this.#view.setStreaming(false);
    if (reply.awaitingTools) void this.#answerTools();
    const text = replyText(reply);
    if (reply.status === "failed") {
      const sentence = describeStreamError(reply.errorText ?? "");
      this.#view.showNotice({ text: sentence, remedy: "none" });
      this.#view.announce(sentence);
    } else if (text) {
      this.#view.announce(reply.status === "stopped" ? `${text} (stopped)` : text);
    }
    this.#view.focusComposer();
    return true;
  }

  #turnRefused(turn: Turn, failure: ApiFailure, { quietConflict, attempt }: { quietConflict: boolean; attempt: number }): boolean {
    if (failure.kind === "http") {
      // The greeting was already written (another tab) or is being written: nothing to show.
      if (quietConflict && (failure.code === "session_not_fresh" || failure.code === "turn_in_progress")) return true;
      if (failure.code === "turn_in_progress" && attempt === 0) {
        setTimeout(() => void this.#retryTurn(turn, attempt + 1), TURN_IN_PROGRESS_RETRY_MS);
        return true;
      }
      if (failure.code === "session_ended" || failure.code === "invalid_token" || failure.code === "session_not_found") {
        this.#options.store.clear();
        this.#session = null;
      }
      if (failure.code === "origin_not_allowed") {
        this.#refuseOrigin();
        return false;
      }
      if (failure.code === "voice_active") {
        this.#enterVoice();
        return false;
      }
    }
    const notice = describeFailure(failure);
    this.#notify(notice, () => (notice.remedy === "retry" ? void this.#retryTurn(turn, 0) : void this.newConversation()));
    // A retry keeps the visitor's bubble; otherwise the text goes back into the input.
    return notice.remedy === "retry" && turn.kind === "message";
  }

  /** Runs `turn` again (same message id: a reply that was stored meanwhile is replayed, not rerun). */
  async #retryTurn(turn: Turn, attempt: number): Promise<void> {
    const ok = await this.#runTurn(turn, { attempt });
    if (!ok && turn.kind === "message") this.#view.restoreDraft(turn.text);
  }

  /**
   * A voice call is attached: chat is paused, the notice says so and offers "Back to chat"
   * (`/voice/end`); the state is polled so that chat comes back when the call ends.
   */
  #enterVoice(): void {
    this.#view.setVoice(true);
    this.#remedy = () => void this.#endVoice();
    this.#view.showNotice({ text: VOICE_CALL, remedy: "retry", remedyLabel: "Back to chat" });
    this.#view.announce(VOICE_CALL);
    clearInterval(this.#voicePoll);
    this.#voicePoll = setInterval(async () => {
      const result = this.#session && (await this.#options.api.getSession(this.#session));
      if (result && result.ok && result.value.channel === "chat") this.#leaveVoice();
    }, VOICE_POLL_MS) as unknown as number;
  }

  async #endVoice(): Promise<void> {
    const result = this.#session && (await this.#options.api.endVoice(this.#session));
    if (result && result.ok) this.#leaveVoice();
    else this.#enterVoice();
  }

  #leaveVoice(): void {
    clearInterval(this.#voicePoll);
    this.#view.setVoice(false);
    this.#view.showNotice(null);
    this.#view.focusComposer();
  }

  #notify(notice: ReturnType<typeof describeFailure>, remedy: () => void): void {
    this.#remedy = notice.remedy === "none" ? null : notice.remedy === "retry" ? remedy : () => void this.newConversation();
    this.#view.showNotice(notice);
    this.#view.announce(notice.text);
  }

  #remember(): void {
    const stored = this.#options.store.load();
    if (stored) this.#options.store.save({ ...stored, open: this.#isOpen });
  }
}

/** The console's explanation when the API refuses this page's origin: the origin and the fix. */
export function originRefusal(publicKey: string): string {
  const origin = location.origin;
  return (
    `parley: this page's origin ${origin} is not on the allowed origins of widget "${publicKey}", so the chat is hidden. ` +
    `Add ${origin} to the widget's allowed origins (this browser remembers the refusal for an hour; clearing the site's storage forgets it).`
  );
}

/** The `sub` an identity token names (read, not verified: the server verifies), or undefined. */
function tokenSubject(token: string | undefined): string | undefined {
  try {
    const bytes = Uint8Array.from(atob(token!.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
    const sub: unknown = JSON.parse(new TextDecoder().decode(bytes)).sub;
    return typeof sub === "string" ? sub : undefined;
  } catch {
    return undefined;
  }
}

/** A client message id: 128 random bits, hex (crypto.randomUUID needs a secure context). */
function newMessageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `m_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
