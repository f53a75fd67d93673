import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import { mintAdminKey } from "../src/admin/keys";
import { identityEncryptionKey, sealIdentitySecret } from "../src/identity/secret-box";
import { adminKeys, templates, tenants, widgets, type NewTemplate, type NewWidget } from "../src/db/schema";
import type { ModelSettings } from "../src/templates/config";
import { DEMO_IDENTITY } from "./demo-identity";
import { DEMO_TURNSTILE } from "./demo-shop";

/** Fixed ids keep the seed idempotent: every run updates the same rows. */
export const DEMO_IDS = {
  llmTemplate: "00000000-0000-4000-8000-000000000001",
  staticTemplate: "00000000-0000-4000-8000-000000000002",
  toolsTemplate: "00000000-0000-4000-8000-000000000003",
  llmWidget: "00000000-0000-4000-8000-000000000101",
  staticWidget: "00000000-0000-4000-8000-000000000102",
  toolsWidget: "00000000-0000-4000-8000-000000000103",
  turnstileWidget: "00000000-0000-4000-8000-000000000104",
  identityTemplate: "00000000-0000-4000-8000-000000000004",
  identityWidget: "00000000-0000-4000-8000-000000000105",
  membersWidget: "00000000-0000-4000-8000-000000000106",
  approvalsTemplate: "00000000-0000-4000-8000-000000000005",
  approvalsWidget: "00000000-0000-4000-8000-000000000107",
  tenantKey: "00000000-0000-4000-8000-000000000201",
} as const;

/** What the demo shop's pages may tell the assistant (`Parley.setContext`): the page and the cart. */
const DEMO_PAGE_CONTEXT = { allowedKeys: ["page", "cart"], maxBytes: 4096 };

/** The demo merchant API's key: a template secret, sent by the HTTP tool, never shown. */
export const DEMO_API_KEY = "demo-secret-api-key-1234";

export interface SeedOptions {
  databaseUrl: string;
  /**
   * Port of a local Worker: both `http://localhost:PORT` and `http://127.0.0.1:PORT` are allowed
   * origins. Left out for a deployed preview, whose origin comes in `shopOrigins`.
   */
  port?: number;
  /** Further allowed origins (the demo shop's). */
  shopOrigins?: string[];
  /** The model the demo templates use. */
  model: ModelSettings;
  /** Base URL of the demo merchant API (`dev/demo-api.ts`). */
  demoApiUrl: string;
  /** The demo MCP server's Streamable HTTP endpoint (`dev/mcp-server.ts`). */
  mcpUrl: string;
  /**
   * Mints a fresh admin key for the demo tenant (replacing the one the last run minted) and
   * returns it: `npm run dev` prints it. @default false
   */
  mintTenantKey?: boolean;
  /**
   * The Worker's identity key material (`IDENTITY_ENCRYPTION_KEY`, else `SESSION_TOKEN_SECRET`):
   * with it the verified-visitor widgets `pk_local_identity` and `pk_local_members` are seeded,
   * their demo secrets sealed as the Worker reads them. Without it they are left out.
   */
  identityKeyMaterial?: string;
}

export interface SeededDemo {
  tenantId: string;
  /** The demo tenant's admin key (`sk_dev_…`), when asked for. */
  tenantKey?: string;
}

const DEMO_TENANT = "tenant_local_demo";

/**
 * Upserts the local demo: widgets `pk_local_demo` (LLM greeting), `pk_local_static` (fixed
 * greeting), `pk_local_tools` (a two-node flow with an HTTP tool and an MCP server),
 * `pk_local_approvals` (a tool the visitor approves, and a tool the shop page answers) and
 * `pk_local_turnstile` (the static greeting behind a Turnstile challenge, with Cloudflare's
 * always-pass test keys).
 */
export async function seedDemo({ databaseUrl, port, shopOrigins = [], model, demoApiUrl, mcpUrl, mintTenantKey = false, identityKeyMaterial }: SeedOptions): Promise<SeededDemo> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  const db = drizzle({ client: pool });
  const origins = [...(port === undefined ? [] : [`http://localhost:${port}`, `http://127.0.0.1:${port}`]), ...shopOrigins];
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
      pageContext: DEMO_PAGE_CONTEXT,
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
      pageContext: DEMO_PAGE_CONTEXT,
    },
    {
      id: DEMO_IDS.toolsTemplate,
      tenantId: DEMO_TENANT,
      name: "Local demo (flow and tools)",
      model,
      instructions: "You are the order assistant of {shopName}. Answer briefly.",
      initialTurnInstruction: "Greet the visitor and ask how you can help.",
      variables: [{ name: "shopName", required: false, default: "the parley demo shop", maxLength: 100 }],
      secrets: { DEMO_API_KEY },
      flow: {
        initialNode: "greet",
        nodes: {
          greet: {
            instructions: "Find out what the visitor needs.",
            tools: [],
            transitions: [{ to: "order_help", description: "the visitor asks about an order" }],
          },
          order_help: {
            instructions: "Help with the visitor's order: look up its status (get_order_status) and its shipment (get_shipment).",
            tools: ["get_shipment"],
            transitions: [{ to: "greet", description: "the visitor's order question is answered" }],
          },
        },
      },
      tools: [
        {
          name: "get_shipment",
          description: "Carrier and tracking number of an order's shipment.",
          inputSchema: { type: "object", properties: { orderId: { type: "string" } }, required: ["orderId"] },
          request: { method: "GET", url: `${demoApiUrl}/orders/{args.orderId}/shipment`, headers: { "x-api-key": "{secret.DEMO_API_KEY}" } },
          timeoutMs: 5_000,
          maxResponseBytes: 65_536,
        },
      ],
      mcpServers: [{ name: "orders", url: mcpUrl, headers: {} }],
      presentation: { quickReplies: ["Where is my order?"], textInput: true },
    },
    {
      id: DEMO_IDS.identityTemplate,
      tenantId: DEMO_TENANT,
      name: "Local demo (verified visitors)",
      model,
      instructions: "You are the assistant of {shopName}. The customer is {customerName}, a {customerTier} member. Answer briefly.",
      greeting: "Hi {customerName}! As a {customerTier} member of {shopName}, how can I help?",
      variables: [
        { name: "shopName", required: false, default: "the parley demo shop", maxLength: 100 },
        { name: "customerName", required: false, default: "there", maxLength: 100, trusted: true },
        { name: "customerTier", required: false, default: "guest", maxLength: 20, trusted: true },
      ],
      presentation: { quickReplies: [], textInput: true },
    },
    {
      id: DEMO_IDS.approvalsTemplate,
      tenantId: DEMO_TENANT,
      name: "Local demo (approvals and page tools)",
      model,
      instructions:
        "You are the order assistant of {shopName}. Cancel an order with cancel_order when asked (the visitor approves it first). " +
        "For questions about the visitor's cart, call get_cart: the shop page answers it.",
      greeting: "Hi! I can cancel an order (after you approve it) and tell you what is in your cart.",
      variables: [{ name: "shopName", required: false, default: "the parley demo shop", maxLength: 100 }],
      secrets: { DEMO_API_KEY },
      tools: [
        {
          name: "cancel_order",
          description: "Cancels one of the visitor's orders. The visitor approves each call.",
          inputSchema: { type: "object", properties: { orderId: { type: "string" } }, required: ["orderId"] },
          request: { method: "POST", url: `${demoApiUrl}/orders/{args.orderId}/cancel`, headers: { "x-api-key": "{secret.DEMO_API_KEY}" } },
          timeoutMs: 5_000,
          maxResponseBytes: 65_536,
          needsApproval: true,
        },
      ],
      clientTools: [
        { name: "get_cart", description: "The items in the visitor's cart, as the shop page knows them.", inputSchema: { type: "object", properties: {} } },
        // No demo page answers it: the widget replies with an error the model reads.
        { name: "get_wishlist", description: "The visitor's wish list, if the page keeps one.", inputSchema: { type: "object", properties: {} } },
      ],
      // The scripted dev model's directives (README "The scripted dev model"); real models take plain words.
      presentation: { quickReplies: ['/tool cancel_order {"orderId":"A-1001"}', "/tool get_cart"], textInput: true },
    },
  ];
  try {
    await db.insert(tenants).values({ id: DEMO_TENANT, name: "Local demo merchant" }).onConflictDoNothing();
    for (const template of demoTemplates) {
      await db.insert(templates).values(template).onConflictDoUpdate({ target: templates.id, set: { ...template, updatedAt: new Date() } });
    }
    const noTurnstile = { turnstileSiteKey: null, turnstileSecret: null };
    const demoWidgets: Array<Omit<NewWidget, "tenantId">> = [
      { id: DEMO_IDS.llmWidget, templateId: DEMO_IDS.llmTemplate, publicKey: "pk_local_demo", ...noTurnstile },
      { id: DEMO_IDS.staticWidget, templateId: DEMO_IDS.staticTemplate, publicKey: "pk_local_static", ...noTurnstile },
      { id: DEMO_IDS.toolsWidget, templateId: DEMO_IDS.toolsTemplate, publicKey: "pk_local_tools", ...noTurnstile },
      { id: DEMO_IDS.approvalsWidget, templateId: DEMO_IDS.approvalsTemplate, publicKey: "pk_local_approvals", ...noTurnstile },
      {
        id: DEMO_IDS.turnstileWidget,
        templateId: DEMO_IDS.staticTemplate,
        publicKey: "pk_local_turnstile",
        turnstileSiteKey: DEMO_TURNSTILE.siteKey,
        turnstileSecret: DEMO_TURNSTILE.secret,
      },
    ];
    if (identityKeyMaterial !== undefined) {
      const key = await identityEncryptionKey(identityKeyMaterial);
      const noIdentity = { ...noTurnstile, identitySecretCreatedAt: new Date() };
      demoWidgets.push(
        {
          id: DEMO_IDS.identityWidget,
          templateId: DEMO_IDS.identityTemplate,
          publicKey: "pk_local_identity",
          ...noIdentity,
          identitySecret: await sealIdentitySecret(DEMO_IDENTITY.secret, { key, widgetId: DEMO_IDS.identityWidget }),
        },
        {
          id: DEMO_IDS.membersWidget,
          templateId: DEMO_IDS.identityTemplate,
          publicKey: "pk_local_members",
          ...noIdentity,
          identitySecret: await sealIdentitySecret(DEMO_IDENTITY.membersSecret, { key, widgetId: DEMO_IDS.membersWidget }),
          requireIdentity: true,
        },
      );
    }
    for (const widget of demoWidgets) {
      const row = { ...widget, tenantId: DEMO_TENANT, allowedOrigins: origins, active: true };
      await db.insert(widgets).values(row).onConflictDoUpdate({ target: widgets.id, set: { ...row, updatedAt: new Date() } });
    }
    if (!mintTenantKey) return { tenantId: DEMO_TENANT };
    const minted = await mintAdminKey("development");
    const key = { id: DEMO_IDS.tenantKey, tenantId: DEMO_TENANT, name: "npm run dev", displayPrefix: minted.displayPrefix, keyHash: minted.keyHash, revokedAt: null };
    await db.insert(adminKeys).values(key).onConflictDoUpdate({ target: adminKeys.id, set: key });
    return { tenantId: DEMO_TENANT, tenantKey: minted.key };
  } finally {
    await pool.end();
  }
}
