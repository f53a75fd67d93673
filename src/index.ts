import { createApp } from "./app";
import { scheduled } from "./scheduled";

const app = createApp();

export default {
  fetch: app.fetch,
  // Cron Triggers (wrangler.toml `[triggers]`): the idle sweep.
  // Awaited by the runtime itself: no waitUntil needed.
  scheduled: (controller, env, _ctx) => scheduled(controller, env),
} satisfies ExportedHandler<Env>;
