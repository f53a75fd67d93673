import { createServer } from "node:http";
import { listenOnLoopback } from "./loopback";

/** What the demo HTTP tool answers for an order. */
export function demoShipment(orderId: string) {
  return { orderId, carrier: "DHL", trackingNumber: `JD0146${orderId.toUpperCase()}`, lastScan: "Leipzig hub" };
}

/**
 * The merchant API the demo templates' HTTP tools call: `GET /orders/:id/shipment` and
 * `POST /orders/:id/cancel` (the approvals demo's tool, which the visitor approves first),
 * answering only with the demo API key in `x-api-key` (the template's secret).
 */
export async function startDemoApi({ port = 0, apiKey }: { port?: number; apiKey: string }): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://demo").pathname;
    const match = /^\/orders\/([\w-]{1,64})\/shipment$/.exec(path);
    const cancel = req.method === "POST" ? /^\/orders\/([\w-]{1,64})\/cancel$/.exec(path) : null;
    const [status, body] =
      req.headers["x-api-key"] !== apiKey
        ? [401, { error: "missing or wrong x-api-key" }]
        : match
          ? [200, demoShipment(match[1]!)]
          : cancel
            ? [200, { orderId: cancel[1], status: "canceled" }]
            : [404, { error: "no such route" }];
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  });
  const listening = await listenOnLoopback(server, port);
  return { url: listening.origin, close: listening.close };
}
