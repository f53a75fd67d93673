import { z } from "zod";

/**
 * Largest request body the widget API reads, in bytes; a bigger one is refused before parsing.
 * Far above any valid body: a message is at most 4000 characters, metadata MAX_METADATA_BYTES.
 */
export const MAX_WIDGET_BODY_BYTES = 65_536;

/** Largest `metadata` object a session may carry, in bytes of JSON. */
export const MAX_METADATA_BYTES = 8_192;

export const createSessionBody = z.object({
  publicKey: z.string().min(1, "publicKey is required").max(200),
  templateVars: z.record(z.string(), z.unknown()).default({}),
  metadata: z
    .record(z.string(), z.unknown())
    .default({})
    .refine((value) => new TextEncoder().encode(JSON.stringify(value)).length <= MAX_METADATA_BYTES, {
      message: `metadata must be at most ${MAX_METADATA_BYTES} bytes of JSON`,
    }),
});

export const messageBody = z.object({
  /** The client's id for this message: a retry with the same id replays the stored reply. */
  id: z
    .string()
    .min(1, "id is required: a client message id, unique per session")
    .max(128)
    .regex(/^[\w\-:.]+$/, "id may contain letters, digits, _ - : . only"),
  text: z
    .string()
    .min(1, "text must not be empty")
    .max(4000, "text must be at most 4000 characters")
    .refine((text) => text.trim().length > 0, "text must not be blank"),
});
