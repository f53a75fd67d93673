import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

export interface FlakyProxy {
  /** The proxy's base URL: use it where the real server's would go. */
  url: string;
  close(): Promise<void>;
}

/**
 * An HTTP proxy on loopback in front of `target` that can be made to fail on cue: `POST
 * /__fail` resets every connection (open streams included) and refuses new ones until `POST
 * /__heal`. Stands in for a store that goes away and comes back.
 */
export async function startFlakyProxy(target: string): Promise<FlakyProxy> {
  let failing = false;
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === "/__fail" || req.url === "/__heal") {
      failing = req.url === "/__fail";
      res.end(JSON.stringify({ failing }));
      if (failing) for (const socket of sockets) if (socket !== req.socket) socket.destroy();
      return;
    }
    if (failing) {
      req.socket.destroy();
      return;
    }
    const upstream = request(new URL(req.url ?? "/", target), { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => req.socket.destroy());
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
