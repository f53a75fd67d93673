import { z } from "zod";
import { pageContextValue } from "../page-context/request";
import { storableString } from "../storable-text";

/** The body of `POST /v1/widget/session/:id/message`. */
export const messageBody = z.object({
  /** The client's id for this message: a retry with the same id replays the stored reply. */
  id: z
    .string()
    .min(1, "id is required: a client message id, unique per session")
    .max(128)
    .regex(/^[\w\-:.]+$/, "id may contain letters, digits, _ - : . only"),
  text: storableString()
    .min(1, "text must not be empty")
    .max(4000, "text must be at most 4000 characters")
    .refine((text) => text.trim().length > 0, "text must not be blank"),
  /** Page context for this turn only, laid over the stored one key by key; never stored. */
  context: pageContextValue.optional(),
});

export type MessageBody = z.infer<typeof messageBody>;
