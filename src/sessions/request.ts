import { z } from "zod";
import { refineStorableJson, storableString } from "../storable-text";

/** Largest `metadata` object a session may carry, in bytes of JSON. */
export const MAX_METADATA_BYTES = 8_192;

/** The body of `POST /v1/widget/session`. */
export const createSessionBody = z.object({
  publicKey: storableString().min(1, "publicKey is required").max(200),
  /** The Turnstile token the page's challenge produced, for widgets that ask for one. */
  turnstileToken: storableString().min(1).max(2_048).optional(),
  /** The merchant-signed identity token (HS256 JWT) of a verified visitor (README "Verified visitors"). */
  identityToken: storableString().min(1).max(8_192).optional(),
  templateVars: z.record(z.string(), z.unknown()).default({}).superRefine((value, ctx) => refineStorableJson(value, ctx)),
  metadata: z
    .record(z.string(), z.unknown())
    .default({})
    .superRefine((value, ctx) => refineStorableJson(value, ctx))
    .refine((value) => new TextEncoder().encode(JSON.stringify(value)).length <= MAX_METADATA_BYTES, {
      message: `metadata must be at most ${MAX_METADATA_BYTES} bytes of JSON`,
    }),
});

export type CreateSessionBody = z.infer<typeof createSessionBody>;
