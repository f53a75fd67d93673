import { describe, expect, it } from "vitest";
import { turnUsage } from "../../src/db/schema";
import { post, stores } from "./support/app";
import { admin, adminJson, createTemplateAndWidget, createTenant } from "./support/admin";
import { readChunks } from "./support/sse";

type Totals = { turns: number; sessions: number; inputTokens: number; outputTokens: number; cachedInputTokens: number; reasoningTokens: number; toolCalls: number };
type Usage = { from: string; to: string; totals: Totals; items: Array<Totals & { date: string; widgetId: string }>; nextCursor: string | null };

const today = () => new Date().toISOString().slice(0, 10);
// Queries span yesterday too, so a run across midnight UTC still finds its turns.
const yesterday = () => new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
const dayOf = (date: Date) => date.toISOString().slice(0, 10);

async function chat(publicKey: string, texts: string[]) {
  const { res } = await post("/v1/widget/session", { json: { publicKey } });
  const session = (await res.json()) as { sessionId: string; token: string };
  for (const [i, text] of texts.entries()) {
    const call = await post(`/v1/widget/session/${session.sessionId}/message`, { token: session.token, json: { id: `m${i}`, text } });
    await readChunks(call.res);
    await call.settled();
  }
  return session;
}

describe("admin usage", () => {
  it("tokens, turns and sessions per widget and per day, from the per-turn record; failed turns count", async () => {
    const tenant = await createTenant();
    const a = await createTemplateAndWidget(tenant);
    const b = await createTemplateAndWidget(tenant);
    await chat(a.publicKey, ["hello", "/words 5"]);
    await chat(a.publicKey, ["/fail-mid"]);
    await chat(b.publicKey, ["hi"]);

    const { status, body } = await adminJson<Usage>(admin(`/usage?from=${yesterday()}&to=${today()}`, { key: tenant.key }));
    expect(status).toBe(200);
    const { db } = stores();
    const rows = (await db.select().from(turnUsage)).filter((row) => row.tenantId === tenant.tenantId);
    expect(rows).toHaveLength(4);
    expect(new Set(body.items.map((item) => item.date))).toEqual(new Set(rows.map((row) => dayOf(row.createdAt))));
    const turnsOf = (widgetId: string) => body.items.filter((item) => item.widgetId === widgetId).reduce((sum, item) => sum + item.turns, 0);
    expect(turnsOf(a.widgetId)).toBe(3);
    expect(turnsOf(b.widgetId)).toBe(1);
    expect(body.totals).toMatchObject({ turns: 4, sessions: 3 });

    // The answer is the sum of the append-only records.
    expect(body.totals.inputTokens).toBe(rows.reduce((sum, row) => sum + row.inputTokens, 0));
    expect(body.totals.outputTokens).toBe(rows.reduce((sum, row) => sum + row.outputTokens, 0));
    expect(rows.find((row) => row.status === "failed")?.outputTokens).toBeGreaterThan(0);

    const onlyB = await adminJson<Usage>(admin(`/usage?from=${yesterday()}&to=${today()}&widgetId=${b.widgetId}`, { key: tenant.key }));
    expect(onlyB.body.items.map((item) => item.widgetId)).toEqual([b.widgetId]);
    expect(onlyB.body.totals.turns).toBe(1);
  });

  it("pages by day then widget; another tenant's turns are never counted; bad ranges are 400", async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const widgets = [await createTemplateAndWidget(tenant), await createTemplateAndWidget(tenant)];
    const foreign = await createTemplateAndWidget(other);
    for (const widget of widgets) await chat(widget.publicKey, ["hello"]);
    await chat(foreign.publicKey, ["hello", "again"]);

    // A turn two days back, written as the turn engine would have, so the range spans days.
    const earlier = new Date(Date.now() - 2 * 86_400_000);
    await stores().db.insert(turnUsage).values({
      tenantId: tenant.tenantId,
      widgetId: widgets[0]!.widgetId,
      sessionId: crypto.randomUUID(),
      kind: "message",
      status: "completed",
      model: "parley-dev",
      inputTokens: 100,
      outputTokens: 10,
      durationMs: 5,
      createdAt: earlier,
    });
    const from = dayOf(earlier);
    const seen: Usage["items"] = [];
    let cursor: string | null = null;
    do {
      const page: { body: Usage } = await adminJson<Usage>(admin(`/usage?from=${from}&to=${today()}&limit=1${cursor ? `&cursor=${cursor}` : ""}`, { key: tenant.key }));
      seen.push(...page.body.items);
      expect(page.body.totals.turns).toBe(3);
      cursor = page.body.nextCursor;
    } while (cursor);
    const rows = (await stores().db.select().from(turnUsage)).filter((row) => row.tenantId === tenant.tenantId);
    const expected = [...new Set(rows.map((row) => `${dayOf(row.createdAt)} ${row.widgetId}`))].sort();
    expect(seen.map((item) => `${item.date} ${item.widgetId}`)).toEqual(expected);
    expect(expected).toHaveLength(3);
    expect(seen[0]).toMatchObject({ date: from, widgetId: widgets[0]!.widgetId, inputTokens: 100, outputTokens: 10, turns: 1 });

    expect((await admin(`/usage?from=${today()}&to=${from}`, { key: tenant.key })).res.status).toBe(400);
    expect((await admin(`/usage?from=2020-01-01&to=${today()}`, { key: tenant.key })).res.status).toBe(400);
    expect((await admin(`/usage?from=yesterday&to=${today()}`, { key: tenant.key })).res.status).toBe(400);
    expect((await admin("/usage", { key: tenant.key })).res.status).toBe(400);
  });
});
