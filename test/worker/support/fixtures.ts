import { eq } from "drizzle-orm";
import { chatMessages, chatSessions, templates, turnUsage, widgets, type NewTemplate, type NewWidget } from "../../../src/db/schema";
import { CLIENT_IP, ORIGIN, post, stores } from "./app";

export interface Fixture {
  widgetId: string;
  templateId: string;
  publicKey: string;
}

/** A fresh template and widget of their own, so tests never share state. */
export async function createWidget({
  template,
  widget,
}: { template?: Partial<NewTemplate>; widget?: Partial<NewWidget> } = {}): Promise<Fixture> {
  const { db } = stores();
  const templateId = crypto.randomUUID();
  const widgetId = crypto.randomUUID();
  const publicKey = `pk_test_${crypto.randomUUID()}`;
  await db.insert(templates).values({
    id: templateId,
    tenantId: "tenant_test",
    name: "test template",
    model: { provider: "scripted", modelId: "parley-dev", api: "chat" },
    instructions: "You are the assistant of {shopName}.",
    initialTurnInstruction: "Greet the visitor.",
    variables: [{ name: "shopName", required: false, default: "Test Shop", maxLength: 100 }],
    ...template,
  });
  await db.insert(widgets).values({
    id: widgetId,
    tenantId: "tenant_test",
    templateId,
    publicKey,
    allowedOrigins: [ORIGIN],
    ...widget,
  });
  return { widgetId, templateId, publicKey };
}

export interface TestSession {
  sessionId: string;
  token: string;
  body: Record<string, unknown>;
}

export async function createSession(fixture: Fixture, extra: Record<string, unknown> = {}): Promise<TestSession> {
  const { res } = await post("/v1/widget/session", { json: { publicKey: fixture.publicKey, ...extra } });
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status !== 201) throw new Error(`session create failed: ${res.status} ${JSON.stringify(body)}`);
  return { sessionId: body.sessionId as string, token: body.token as string, body };
}

export async function storedMessages(sessionId: string) {
  const { db } = stores();
  return db.select().from(chatMessages).where(eq(chatMessages.sessionId, sessionId)).orderBy(chatMessages.idx);
}

export async function storedSession(sessionId: string) {
  const { db } = stores();
  const [row] = await db.select().from(chatSessions).where(eq(chatSessions.id, sessionId));
  return row;
}

/** A usage record as a finished turn leaves it (`tokens` in all), `ageMs` ago: what a budget counts. */
export async function recordUsage(fixture: Pick<Fixture, "widgetId" | "templateId">, session: TestSession, tokens: number, ageMs = 0) {
  await stores().db.insert(turnUsage).values({
    tenantId: "tenant_test",
    widgetId: fixture.widgetId,
    sessionId: session.sessionId,
    templateId: fixture.templateId,
    kind: "message",
    status: "completed",
    model: "parley-dev",
    inputTokens: tokens - 1,
    outputTokens: 1,
    durationMs: 10,
    createdAt: new Date(Date.now() - ageMs),
  });
}

export { CLIENT_IP, ORIGIN };
