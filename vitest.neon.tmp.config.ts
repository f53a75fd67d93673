import { defineConfig } from "vitest/config";
export default defineConfig({
  test: { include: ["test/dev/neon-shim.test.ts"], environment: "node", globalSetup: ["./test/dev/tmp-neon-setup.ts"] },
});
