import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import { templates, widgets, type NewTemplate } from "../src/db/schema";
import type { ModelSettings } from "../src/templates/config";

/** Fixed ids keep the seed idempotent: every run updates the same rows. */
export const DEMO_IDS = {
  llmTemplate: "00000000-0000-4000-8000-000000000001",
  staticTemplate: "00000000-0000-4000-8000-000000000002",
  llmWidget: "00000000-0000-4000-8000-000000000101",
  staticWidget: "00000000-0000-4000-8000-000000000102",
} as const;

export interface SeedOptions {
  databaseUrl: string;
  /** Port the Worker listens on: both `http://localhost:PORT` and `http://127.0.0.1:PORT` are allowed origins. */
  port: number;
  /** The model the demo templates use. */
  model: ModelSettings;
}

const DEMO_TENANT = "tenant_local_demo";

/** Upserts the local demo: widgets `pk_local_demo` (LLM greeting) and `pk_local_static` (fixed greeting). */
export async function seedDemo({ databaseUrl, port, model }: SeedOptions): Promise<void> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  const db = drizzle({ client: pool });
  const origins = [`http://localhost:${port}`, `http://127.0.0.1:${port}`];
  const demoTemplates: NewTemplate[] = [
    {
      id: DEMO_IDS.llmTemplate,
      tenantId: DEMO_TENANT,
      name: "Local demo (model greeting)",
      model,
      instructions: "You are the friendly assistant of {shopName}. Answer briefly.",
      initialTurnInstruction: "Greet the visitor{visitorName} and offer help with orders and products.",
      variables: [
        { name: "shopName", required: false, default: "the parley demo shop", maxLength: 100 },
        { name: "visitorName", required: false, default: "", maxLength: 100 },
      ],
      presentation: { quickReplies: ["Where is my order?", "Talk to a human"], textInput: true },
    },
    {
      id: DEMO_IDS.staticTemplate,
      tenantId: DEMO_TENANT,
      name: "Local demo (static greeting)",
      model,
      instructions: "You are the assistant of {shopName}. Answer briefly.",
      greeting: "Hi! Welcome to {shopName}. How can I help?",
      variables: [{ name: "shopName", required: false, default: "the parley demo shop", maxLength: 100 }],
      presentation: { quickReplies: [], textInput: true },
    },
  ];
  try {
    for (const template of demoTemplates) {
      await db.insert(templates).values(template).onConflictDoUpdate({ target: templates.id, set: { ...template, updatedAt: new Date() } });
    }
    const demoWidgets = [
      { id: DEMO_IDS.llmWidget, templateId: DEMO_IDS.llmTemplate, publicKey: "pk_local_demo" },
      { id: DEMO_IDS.staticWidget, templateId: DEMO_IDS.staticTemplate, publicKey: "pk_local_static" },
    ];
    for (const widget of demoWidgets) {
      const row = { ...widget, tenantId: DEMO_TENANT, allowedOrigins: origins, active: true };
      await db.insert(widgets).values(row).onConflictDoUpdate({ target: widgets.id, set: { ...row, updatedAt: new Date() } });
    }
  } finally {
    await pool.end();
  }
}
