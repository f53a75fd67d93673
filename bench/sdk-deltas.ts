import { experimental_streamTextLowMemory as streamTextSingleConsumer } from "ai";
import { resolveModel } from "../src/model/provider";
import type { DeltaSource } from "./floor-worker";

/**
 * A turn's text deltas through the AI SDK as parley gets them: the model from parley's own
 * `resolveModel` (`@ai-sdk/openai` with its two 20 ms windows), `streamText`'s single-consumer
 * variant, its stream read once.
 */
export const sdkDeltas: DeltaSource = (env, prompt) => {
  const model = resolveModel({ provider: "openai", modelId: "fake-bench", api: "chat" }, { environment: "development", openaiApiKey: "sk-floor", openaiBaseUrl: env.OPENAI_BASE_URL, devModelDelayMs: 0 });
  const result = streamTextSingleConsumer({ model, system: prompt.system, messages: [{ role: "user", content: prompt.text }] });
  return textOf(result.stream);
};

async function* textOf(parts: ReadableStream<{ type: string; text?: string }>): AsyncIterable<string> {
  const reader = parts.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    if (value.type === "text-delta" && value.text) yield value.text;
  }
}
