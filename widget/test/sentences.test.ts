import { describe, expect, it } from "vitest";
import { describeFailure, describeStreamError, toolActivity, waitPhrase } from "../src/sentences";

describe("describeFailure", () => {
  it("turns a 429 into a sentence with the wait from Retry-After", () => {
    const notice = describeFailure({ kind: "http", status: 429, code: "rate_limited", message: "", retryAfterSeconds: 1_500 });
    expect(notice).toEqual({ text: "You're sending messages quickly — try again in 25 minutes.", remedy: "none" });
  });

  it("offers a new conversation for an ended or expired one, and a retry for 503 and network", () => {
    expect(describeFailure({ kind: "http", status: 410, code: "session_ended", message: "" }).remedy).toBe("new-conversation");
    expect(describeFailure({ kind: "http", status: 401, code: "invalid_token", message: "" }).remedy).toBe("new-conversation");
    expect(describeFailure({ kind: "http", status: 503, code: "unavailable", message: "" }).remedy).toBe("retry");
    expect(describeFailure({ kind: "network" })).toMatchObject({ remedy: "retry", text: expect.stringContaining("couldn't reach") });
  });
});

describe("describeFailure for the other 429s", () => {
  it("offers a new conversation past a session's turn cap, and says come back tomorrow past the daily budget", () => {
    expect(describeFailure({ kind: "http", status: 429, code: "session_limit", message: "" }).remedy).toBe("new-conversation");
    expect(describeFailure({ kind: "http", status: 429, code: "budget_exhausted", message: "", retryAfterSeconds: 3_600 })).toEqual({
      text: "The assistant can't take more questions today. Please come back tomorrow.",
      remedy: "none",
    });
    expect(describeFailure({ kind: "http", status: 429, code: "something_new", message: "", retryAfterSeconds: 90 }).text).toBe(
      "Too many requests right now — try again in 2 minutes.",
    );
  });
});

describe("waitPhrase", () => {
  it("rounds up to minutes, then hours", () => {
    expect([waitPhrase(undefined), waitPhrase(30), waitPhrase(61), waitPhrase(3_600), waitPhrase(7_300)]).toEqual([
      "a minute",
      "a minute",
      "2 minutes",
      "60 minutes",
      "3 hours",
    ]);
  });
});

describe("describeStreamError", () => {
  it("says what happened without the code", () => {
    expect(describeStreamError("turn_deadline: took too long")).toBe("The reply took too long and was stopped. Please try again.");
    expect(describeStreamError("model_error: boom")).toMatch(/^Sorry, something went wrong/);
  });
});

describe("toolActivity", () => {
  it("says what a lookup tool is doing, quietly", () => {
    expect(toolActivity("get_order_status", false)).toBe("Looking up order status…");
    expect(toolActivity("get_order_status", true)).toBe("Looked up order status");
    expect(toolActivity("create_ticket", false)).toBe("Working on create ticket…");
  });
});
