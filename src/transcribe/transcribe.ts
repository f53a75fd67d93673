import type { TranscriptionModelV4 } from "@ai-sdk/provider";
import { transcribe } from "ai";
import { ApiError } from "../errors";
import { errorFields, log } from "../log/log";
import { ModelUnavailableError, type ModelEnvironment } from "../model/provider";
import { resolveTranscriptionModel } from "../model/transcription";
import type { ModelSettings } from "../templates/config";
import type { Recording } from "./recording";

/** The template's speech-to-text model; a provider this server cannot use is 500 `misconfigured`, in its safe words. */
export function transcriptionModelFor(settings: ModelSettings, env: ModelEnvironment): TranscriptionModelV4 {
  try {
    return resolveTranscriptionModel(settings, env);
  } catch (error) {
    if (error instanceof ModelUnavailableError) throw new ApiError("misconfigured", { message: error.message, cause: error });
    throw error;
  }
}

/** Longest a provider may take to transcribe one recording, in ms; then 502. */
export const TRANSCRIBE_TIMEOUT_MS = 30_000;

/**
 * The text of a recording, through the AI SDK's `transcribe`. No turn starts and nothing is
 * stored: the widget puts the text in the composer. A provider failure (an error answer, no
 * answer within {@link TRANSCRIBE_TIMEOUT_MS}, no transcript) is 502 `transcription_failed`.
 */
export async function transcribeRecording(
  model: TranscriptionModelV4,
  { audio, mediaType }: Recording,
  context: { requestId?: string; sessionId: string },
): Promise<{ text: string }> {
  try {
    const result = await transcribe({
      model,
      // `transcribe` sniffs the type of raw bytes and knows no WebM (what browsers record): handed
      // over as a "download" instead, the recording keeps the type the browser gave it.
      audio: new URL("parley:recording"),
      download: async () => ({ data: audio, mediaType }),
      maxRetries: 0,
      abortSignal: AbortSignal.timeout(TRANSCRIBE_TIMEOUT_MS),
    });
    return { text: result.text.trim() };
  } catch (error) {
    log("warn", "transcription failed", { ...context, mediaType, bytes: audio.byteLength, ...errorFields(error) });
    throw new ApiError("transcription_failed", { cause: error });
  }
}
