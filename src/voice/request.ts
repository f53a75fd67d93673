import { z } from "zod";
import { storableString } from "../storable-text";

/** The body of the service API's attach and detach: the voice platform's id of the call. */
export const voiceLeadBody = z.object({
  leadId: storableString()
    .min(1, "leadId is required: the voice platform's id of the call")
    .max(200, "leadId must be at most 200 characters"),
});

export type VoiceLeadBody = z.infer<typeof voiceLeadBody>;
