import { createOpenAI } from "@ai-sdk/openai";
import type { LanguageModelV4 } from "@ai-sdk/provider";
import { wrapLanguageModel, type LanguageModel } from "ai";
import type { ModelSettings } from "../templates/config";
import { batchedFetch } from "./batched-fetch";
import { coalesceDeltas, DEFAULT_COALESCE_WINDOW_MS } from "./coalesce";
import { createScriptedModel } from "./scripted";

/** The deployment facts model selection depends on; `Config` satisfies it. */
export interface ModelEnvironment {
  environment: "development" | "preview" | "production";
  openaiApiKey?: string;
  /** Any OpenAI-compatible server, e.g. `http://127.0.0.1:8787/v1`. Unset: api.openai.com. */
  openaiBaseUrl?: string;
  /** Pause before each word of the scripted dev model, in ms. */
  devModelDelayMs: number;
  /**
   * Text deltas arriving within this many ms of each other are merged into one (see
   * `coalesceDeltas`); 0 streams every delta as the provider sent it. @default DEFAULT_COALESCE_WINDOW_MS
   */
  coalesceWindowMs?: number;
}

export type ModelUnavailableReason = "scripted_in_production" | "openai_key_missing";

const UNAVAILABLE_MESSAGE: Record<ModelUnavailableReason, string> = {
  scripted_in_production: "This agent uses the local development model, which is not available in production.",
  openai_key_missing: "This agent's model provider (OpenAI) is not configured on this server.",
};

/** The template's model cannot run here; `message` is safe to show to users, `reason` is for code. */
export class ModelUnavailableError extends Error {
  readonly reason: ModelUnavailableReason;

  constructor(reason: ModelUnavailableReason) {
    super(UNAVAILABLE_MESSAGE[reason]);
    this.name = "ModelUnavailableError";
    this.reason = reason;
  }
}

/**
 * The language model a template's settings name. Build it per request: the OpenAI client is
 * made here, never kept at module scope (Workers cannot share I/O objects across requests).
 * Sampling settings (`temperature`, `maxOutputTokens`) are for the caller to pass to `streamText`.
 * Text deltas are coalesced (`env.coalesceWindowMs`) right at the model, so every stage after
 * it handles fewer chunks; the assembled reply is the same. OpenAI's streamed response bodies are
 * batched in the same window before the provider parses them.
 *
 * @throws {ModelUnavailableError} for the scripted model in production, or OpenAI without a key.
 */
export function resolveModel(settings: ModelSettings, env: ModelEnvironment): LanguageModel {
  const windowMs = env.coalesceWindowMs ?? DEFAULT_COALESCE_WINDOW_MS;
  const model = providerModel(settings, env);
  return windowMs > 0 ? wrapLanguageModel({ model, middleware: coalesceDeltas({ windowMs }) }) : model;
}

function providerModel(settings: ModelSettings, env: ModelEnvironment): LanguageModelV4 {
  switch (settings.provider) {
    case "openai": {
      if (!env.openaiApiKey) throw new ModelUnavailableError("openai_key_missing");
      // Bytes read within the window are parsed as one batch: the provider's parsing stages run per batch, not per token.
      const batched = batchedFetch(env.coalesceWindowMs ?? DEFAULT_COALESCE_WINDOW_MS);
      const openai = createOpenAI({ apiKey: env.openaiApiKey, baseURL: env.openaiBaseUrl, fetch: batched });
      return settings.api === "chat" ? openai.chat(settings.modelId) : openai(settings.modelId);
    }
    case "scripted":
      if (env.environment === "production") throw new ModelUnavailableError("scripted_in_production");
      return createScriptedModel({ delayMs: env.devModelDelayMs, modelId: settings.modelId });
  }
}

/** Picks the model of a template; injected into the app so tests can supply their own. */
export type ModelResolver = (settings: ModelSettings, env: ModelEnvironment) => LanguageModel;
