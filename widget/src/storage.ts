/** The visitor's conversation, kept in `localStorage` per public key so a reload keeps it. */
export interface StoredConversation {
  sessionId: string;
  token: string;
  /** ISO time the token expires. */
  expiresAt: string;
  /** Whether the panel was open, so a reload opens it again. */
  open?: boolean;
  /** The verified visitor it belongs to (absent: anonymous); another visitor's page does not restore it. */
  visitor?: string;
}

const PREFIX = "parley:";

/** Reads, writes and forgets the stored conversation of one widget. Storage may be blocked: then nothing is kept. */
export class ConversationStore {
  readonly #key: string;

  constructor(publicKey: string) {
    this.#key = PREFIX + publicKey;
  }

  /** The stored conversation, or null when there is none, it is unreadable, or its token expired. */
  load(now = Date.now()): StoredConversation | null {
    try {
      const raw = localStorage.getItem(this.#key);
      if (!raw) return null;
      const value = JSON.parse(raw) as Partial<StoredConversation>;
      if (typeof value.sessionId !== "string" || typeof value.token !== "string" || typeof value.expiresAt !== "string") return null;
      if (!(Date.parse(value.expiresAt) > now)) {
        this.clear();
        return null;
      }
      return value as StoredConversation;
    } catch {
      return null;
    }
  }

  save(conversation: StoredConversation): void {
    try {
      localStorage.setItem(this.#key, JSON.stringify(conversation));
    } catch {
      // Storage full or blocked: the conversation lasts as long as the page.
    }
  }

  /** Remembers until `until` (epoch ms) that the API refused this page's origin. */
  refuseOrigin(until: number): void {
    try {
      localStorage.setItem(`${this.#key}:refused`, String(until));
    } catch {
      // Blocked storage: every page view asks again.
    }
  }

  /** Whether a refusal of this page's origin is remembered (see {@link refuseOrigin}). */
  originRefused(now = Date.now()): boolean {
    try {
      return Number(localStorage.getItem(`${this.#key}:refused`)) > now;
    } catch {
      return false;
    }
  }

  clear(): void {
    try {
      localStorage.removeItem(this.#key);
    } catch {
      // Blocked storage holds nothing to clear.
    }
  }
}
