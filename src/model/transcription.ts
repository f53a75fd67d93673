import { createOpenAI } from "@ai-sdk/openai";
import type { TranscriptionModelV4 } from "@ai-sdk/provider";
import type { ModelSettings } from "../templates/config";
import { ModelUnavailableError, type ModelEnvironment } from "./provider";

/** The speech-to-text model of a template whose settings name none. */
export const DEFAULT_TRANSCRIPTION_MODEL_ID = "whisper-1";

/**
 * The speech-to-text model of a template's provider (push-to-talk). OpenAI: the provider's
 * transcription model (`/audio/transcriptions` at the same base URL as the chat model). The
 * scripted dev model has a scripted counterpart that hears nothing and says what it got.
 * Built per request, like the language model.
 *
 * @throws {ModelUnavailableError} as `resolveModel` does: scripted in production, OpenAI without a key.
 */
export function resolveTranscriptionModel(settings: ModelSettings, env: ModelEnvironment): TranscriptionModelV4 {
  const modelId = settings.transcriptionModelId ?? DEFAULT_TRANSCRIPTION_MODEL_ID;
  switch (settings.provider) {
    case "openai":
      if (!env.openaiApiKey) throw new ModelUnavailableError("openai_key_missing");
      return createOpenAI({ apiKey: env.openaiApiKey, baseURL: env.openaiBaseUrl }).transcription(modelId);
    case "scripted":
      if (env.environment === "production") throw new ModelUnavailableError("scripted_in_production");
      return scriptedTranscriptionModel(modelId);
  }
}

/** The dev stack's speech-to-text: no recognition, a sentence naming what arrived (for local demos and tests). */
function scriptedTranscriptionModel(modelId: string): TranscriptionModelV4 {
  return {
    specificationVersion: "v4",
    provider: "scripted",
    modelId,
    async doGenerate({ audio, mediaType }) {
      const bytes = typeof audio === "string" ? Math.floor((audio.length * 3) / 4) : audio.byteLength;
      return {
        text: `(voice message: ${bytes} bytes of ${mediaType})`,
        segments: [],
        language: undefined,
        durationInSeconds: undefined,
        warnings: [],
        response: { timestamp: new Date(), modelId },
      };
    },
  };
}
