/** The cases of `npm run bench -- --stages` (bench/stages-worker.ts runs them), in the order printed. */
export const STAGE_CASES = {
  parse: "decode + one JSON.parse per event (the floor's parse)",
  provider: "@ai-sdk/openai doStream over the same bytes",
  "stream-text": "streamText (single consumer) over the SDK's mock model, a delta per token",
  sdk: "@ai-sdk/openai + streamText, a delta per token",
  "stages-0": "the bytes read through no stream stage",
  "stages-10": "the bytes read through ten identity TransformStreams",
} as const;

export type StageCase = keyof typeof STAGE_CASES;
