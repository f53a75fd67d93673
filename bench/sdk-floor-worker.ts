/**
 * The SDK floor (`npm run bench -- --sdk-floor`): the floor's Worker (bench/floor-worker.ts:
 * the store requests by hand, no Hono, Drizzle or Upstash client), its model called and its
 * stream read through the AI SDK as parley does (bench/sdk-deltas.ts). Its figures are the least
 * an app can spend on this I/O when every reply passes through `streamText`, as parley's must.
 */
import { handStores } from "./reference-stores";
import { floorWorker } from "./floor-worker";
import { sdkDeltas } from "./sdk-deltas";

export default floorWorker({ stores: (env) => handStores(env, "floor"), deltas: sdkDeltas });
