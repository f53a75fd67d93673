import { createServer } from "node:http";
import { listenOnLoopback, readBody } from "../../dev/loopback";

import { FAKE_TURNSTILE } from "./turnstile-keys";

export interface FakeTurnstile {
  /** The siteverify URL, for `TURNSTILE_VERIFY_URL`. */
  url: string;
  close(): Promise<void>;
}

/**
 * A local stand-in for Turnstile's siteverify (Node): form-encoded `secret`, `response`,
 * `remoteip`, answered `{ success, "error-codes" }` as Cloudflare documents. `GET /__calls`
 * lists what it was asked (`?response=<token>` filters).
 */
export async function startFakeTurnstile(): Promise<FakeTurnstile> {
  const calls: Array<Record<string, string>> = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://fake");
    if (req.method === "GET" && url.pathname === "/__calls") {
      const token = url.searchParams.get("response");
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(calls.filter((call) => !token || call.response === token)));
      return;
    }
    const form = Object.fromEntries(new URLSearchParams(await readBody(req)));
    calls.push(form);
    const errors =
      form.secret !== FAKE_TURNSTILE.secret ? ["invalid-input-secret"] : form.response !== FAKE_TURNSTILE.passingToken ? ["invalid-input-response"] : [];
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ success: errors.length === 0, "error-codes": errors }));
  });
  const { origin, close } = await listenOnLoopback(server, 0);
  return { url: `${origin}/siteverify`, close };
}
