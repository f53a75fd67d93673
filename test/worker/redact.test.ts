import { describe, expect, it } from "vitest";
import { createRedactor, MIN_REDACTED_LENGTH, REDACTED } from "../../src/agent/redact";

const SECRETS = { API_KEY: "sk-live-abc123", SHORT: "eu", EMPTY: "", PIN: "4711" };

/** Pushes every delta, then flushes; returns what was emitted per call and joined. */
function streamThrough(secrets: Record<string, string>, deltas: string[]) {
  const stream = createRedactor(secrets).stream();
  const emitted = deltas.map((delta) => stream.push(delta));
  emitted.push(stream.flush());
  return { emitted, text: emitted.join("") };
}

/** Every way to cut `text` into `parts` non-empty pieces. */
function splits(text: string, parts: number): string[][] {
  if (parts === 1) return [[text]];
  const out: string[][] = [];
  for (let i = 1; i <= text.length - parts + 1; i++) {
    for (const rest of splits(text.slice(i), parts - 1)) out.push([text.slice(0, i), ...rest]);
  }
  return out;
}

describe("redactor.text", () => {
  const redactor = createRedactor(SECRETS);

  it("replaces every occurrence of a secret", () => {
    expect(redactor.text("key sk-live-abc123 and again sk-live-abc123.")).toBe(`key ${REDACTED} and again ${REDACTED}.`);
    expect(redactor.text("pin 4711")).toBe(`pin ${REDACTED}`);
  });

  it(`ignores empty values and values shorter than ${MIN_REDACTED_LENGTH} characters`, () => {
    expect(redactor.text("eu-west, europe")).toBe("eu-west, europe");
    expect(redactor.text("")).toBe("");
  });

  it("redacts the URL-encoded and JSON-escaped forms of a secret", () => {
    const special = createRedactor({ TOKEN: 'a/b+c "d"' });
    expect(special.text(`?t=${encodeURIComponent('a/b+c "d"')}`)).toBe(`?t=${REDACTED}`);
    expect(special.text(JSON.stringify({ t: 'a/b+c "d"' }))).toBe(`{"t":"${REDACTED}"}`);
  });

  it("lets the longest match win and leaves no fragment of overlapping secrets", () => {
    const nested = createRedactor({ LONG: "token-12345678", INNER: "12345678" });
    expect(nested.text("x token-12345678 y 12345678")).toBe(`x ${REDACTED} y ${REDACTED}`);

    const overlapping = createRedactor({ A: "abcdef", B: "defghi" });
    expect(overlapping.text("<abcdefghi>")).toBe(`<${REDACTED}>`);
    expect(overlapping.text("abcdef defghi")).toBe(`${REDACTED} ${REDACTED}`);
  });

  it("is the identity without secrets", () => {
    const none = createRedactor({});
    expect(none.text("anything {secret.X} at all")).toBe("anything {secret.X} at all");
  });
});

describe("redactor.value", () => {
  const redactor = createRedactor(SECRETS);

  it("returns a deep copy with secrets replaced in nested strings and keys", () => {
    const input = {
      status: 200,
      ok: true,
      none: null,
      headers: { authorization: "Bearer sk-live-abc123", "x-region": "eu" },
      list: ["4711", { deep: ["prefix sk-live-abc123 suffix"] }],
      "sk-live-abc123": "as a key",
    };
    const output = redactor.value(input);
    expect(output).toEqual({
      status: 200,
      ok: true,
      none: null,
      headers: { authorization: `Bearer ${REDACTED}`, "x-region": "eu" },
      list: [REDACTED, { deep: [`prefix ${REDACTED} suffix`] }],
      [REDACTED]: "as a key",
    });
    expect(output).not.toBe(input);
    expect(output.headers).not.toBe(input.headers);
    expect(input.headers.authorization).toBe("Bearer sk-live-abc123");
    expect(JSON.stringify(output)).not.toContain("sk-live-abc123");
  });

  it("copies without changing anything when there are no secrets", () => {
    const input = { a: ["x", { b: "y" }], n: 1 };
    const output = createRedactor({ EMPTY: "" }).value(input);
    expect(output).toEqual(input);
    expect(output).not.toBe(input);
    expect(createRedactor({}).value("plain")).toBe("plain");
    expect(createRedactor({}).value(42)).toBe(42);
  });
});

describe("redactor.stream", () => {
  const secret = SECRETS.API_KEY;
  const message = `before ${secret} after`;

  it("catches a secret split across 2 deltas, at every split point", () => {
    for (const deltas of splits(message, 2)) {
      expect(streamThrough(SECRETS, deltas).text, JSON.stringify(deltas)).toBe(`before ${REDACTED} after`);
    }
  });

  it("catches a secret split across 3 deltas, at every split point", () => {
    const short = `<${secret}>`;
    for (const deltas of splits(short, 3)) {
      expect(streamThrough(SECRETS, deltas).text, JSON.stringify(deltas)).toBe(`<${REDACTED}>`);
    }
  });

  it("catches a secret streamed one character at a time", () => {
    expect(streamThrough(SECRETS, [...message]).text).toBe(`before ${REDACTED} after`);
  });

  it("holds back at most the longest secret's length minus one", () => {
    const redactor = createRedactor(SECRETS);
    const fragments = ["sk-", "live-", "abc", "12", "sk-live-abc12", "x", "4", "47", "471"];
    let seed = 7;
    for (let run = 0; run < 200; run++) {
      const deltas = Array.from({ length: 8 }, () => fragments[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % fragments.length]!);
      // Without a complete secret nothing is replaced, so pushed minus emitted is what is held.
      if (redactor.text(deltas.join("")) !== deltas.join("")) continue;
      const stream = redactor.stream();
      let pushed = 0;
      let emitted = 0;
      for (const delta of deltas) {
        pushed += delta.length;
        emitted += stream.push(delta).length;
        expect(pushed - emitted, JSON.stringify(deltas)).toBeLessThanOrEqual(secret.length - 1);
      }
      expect(emitted + stream.flush().length).toBe(pushed);
    }
    const stream = redactor.stream();
    expect(stream.push(`${"x".repeat(40)}sk-live-abc12`)).toBe("x".repeat(40));
    expect(stream.push("3")).toBe(REDACTED);
  });

  it("emits at once what cannot start a secret", () => {
    const stream = createRedactor(SECRETS).stream();
    expect(stream.push("hello ")).toBe("hello ");
    expect(stream.push("world sk-")).toBe("world ");
    expect(stream.push("nope")).toBe("sk-nope");
    expect(stream.flush()).toBe("");
  });

  it("holds a partial secret until flush, which returns it when the stream ends early", () => {
    const stream = createRedactor(SECRETS).stream();
    expect(stream.push("end: sk-live")).toBe("end: ");
    expect(stream.flush()).toBe("sk-live");
    expect(stream.flush()).toBe("");
  });

  it("handles overlapping and nested secrets across deltas", () => {
    const secrets = { LONG: "token-12345678", INNER: "12345678", A: "abcdef", B: "defghi" };
    expect(streamThrough(secrets, ["x token-1234", "5678 y 1234", "5678"]).text).toBe(`x ${REDACTED} y ${REDACTED}`);
    expect(streamThrough(secrets, ["<abc", "def", "ghi>"]).text).not.toContain("abcdef");
    for (const deltas of splits("<abcdefghi>", 3)) {
      const { text } = streamThrough(secrets, deltas);
      expect(text, JSON.stringify(deltas)).not.toContain("abcdef");
      expect(text, JSON.stringify(deltas)).not.toContain("defghi");
    }
  });

  it("lets no whole secret through for any 2-way split of a busy text", () => {
    const secrets = { A: "secret-aaaa", B: "aaaa-bbbb" };
    const text = "secret-aaaa-bbbb, aaaa-bbbb and secret-aaa plus bbbb";
    const oneShot = createRedactor(secrets).text(text);
    for (const deltas of splits(text, 2)) {
      const streamed = streamThrough(secrets, deltas).text;
      expect(streamed).not.toContain("secret-aaaa");
      expect(streamed).not.toContain("aaaa-bbbb");
    }
    expect(oneShot).toBe(`${REDACTED}, ${REDACTED} and secret-aaa plus bbbb`);
  });

  it("passes deltas through unchanged, with no hold-back, without secrets", () => {
    for (const secrets of [{}, { SHORT: "abc", EMPTY: "" }] as Record<string, string>[]) {
      const stream = createRedactor(secrets).stream();
      expect(stream.push("abc")).toBe("abc");
      expect(stream.push(" a")).toBe(" a");
      expect(stream.push("")).toBe("");
      expect(stream.flush()).toBe("");
    }
  });
});
