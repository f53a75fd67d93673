import { z } from "zod";
import { refineStorableJson, storableString } from "../storable-text";

/** Largest client tool result accepted, in bytes of its JSON; a larger one answers 413. */
export const MAX_TOOL_OUTPUT_BYTES = 16_384;

const callId = (what: string) =>
  z
    .string()
    .min(1, `${what} is required: the id the stream carried`)
    .max(200)
    .regex(/^[\w\-:.]+$/, `${what} may contain letters, digits, _ - : . only`);

/** The body of `POST /v1/widget/session/:id/approval`. */
export const approvalBody = z.object({
  /** The `approvalId` of the stream's `tool-approval-request` part. */
  approvalId: callId("approvalId"),
  approved: z.boolean({ error: "approved must be true or false" }),
  /** Told to the model with a denial (or an approval). */
  reason: storableString().max(500, "reason must be at most 500 characters").optional(),
});
export type ApprovalBody = z.infer<typeof approvalBody>;

/** The body of `POST /v1/widget/session/:id/tool-result`. */
export const toolResultBody = z
  .object({
    /** The `toolCallId` of the stream's `tool-input-available` part. */
    toolCallId: callId("toolCallId"),
    /** Any JSON value: what the model reads as the tool's result. */
    output: z
      .unknown()
      .refine((output) => output !== undefined, "output is required: any JSON value (use null for none)")
      .meta({ description: "Any JSON value: what the model reads as the tool's result" }),
  })
  .superRefine((body, ctx) => refineStorableJson(body.output, ctx, ["output"]));
export type ToolResultBody = z.infer<typeof toolResultBody>;

/** What the visitor answers a waiting reply with: a decision, or a client tool's result. */
export type VisitorAnswer = ({ kind: "approval" } & ApprovalBody) | ({ kind: "tool_result" } & ToolResultBody);
