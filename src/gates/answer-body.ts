import { createMiddleware } from "hono/factory";
import type { GateEnv } from "../env";
import { ApiError } from "../errors";
import { approvalBody, MAX_TOOL_OUTPUT_BYTES, toolResultBody, type VisitorAnswer } from "../turn/answer-request";
import { parseBody } from "./body";

export interface AnswerVariables {
  /** The body of an approval or tool-result route: what the visitor answers a waiting reply with. */
  answer: VisitorAnswer;
}

async function readJson(request: Request, shape: string): Promise<unknown> {
  return request.json().catch(() => {
    throw new ApiError("invalid_request", { message: `The body must be JSON: ${shape}.` });
  });
}

/** Gate 2 of the approval route: `{ approvalId, approved, reason? }`. */
export const approvalGate = () =>
  createMiddleware<GateEnv<AnswerVariables>>(async function approvalGate(c, next) {
    const body = parseBody(approvalBody, await readJson(c.req.raw, '{"approvalId": "…", "approved": true, "reason": "…"}'));
    c.set("answer", { kind: "approval", ...body });
    await next();
  });

/** Gate 2 of the tool-result route: `{ toolCallId, output }`, the output at most 16 KB of JSON (else 413). */
export const toolResultGate = () =>
  createMiddleware<GateEnv<AnswerVariables>>(async function toolResultGate(c, next) {
    const body = parseBody(toolResultBody, await readJson(c.req.raw, '{"toolCallId": "…", "output": <any JSON>}'));
    const bytes = new TextEncoder().encode(JSON.stringify(body.output)).length;
    if (bytes > MAX_TOOL_OUTPUT_BYTES) {
      throw new ApiError("payload_too_large", {
        message: `The tool result is ${bytes} bytes of JSON; at most ${MAX_TOOL_OUTPUT_BYTES} are accepted. Send a smaller output.`,
        details: { bytes, maxBytes: MAX_TOOL_OUTPUT_BYTES },
      });
    }
    c.set("answer", { kind: "tool_result", ...body });
    await next();
  });
