import { and, desc, eq, gte, lt, sql, type SQL } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import type { Cursor } from "../admin/cursor";
import type { Database } from "./client";
import {
  adminKeys,
  chatMessages,
  chatSessions,
  templates,
  tenants,
  turnUsage,
  widgets,
  type AdminKey,
  type ChatMessage,
  type ChatSession,
  type NewTemplate,
  type NewWidget,
  type SessionStatus,
  type Template,
  type Tenant,
  type TurnUsage,
  type Widget,
} from "./schema";

// Every query here takes the tenant and scopes by it: a row of another tenant is not found.

/** A page request: at most `limit` rows after `cursor` (newest first). */
export interface PageQuery {
  limit: number;
  cursor?: Cursor;
}

/** A row and its sort key in PostgreSQL's exact text form (see `Cursor`). */
export interface Keyed<T> {
  row: T;
  cursorAt: string;
}

type Listed = PgTable & { createdAt: PgColumn; id: PgColumn };

/** The `(created_at, id)` keyset condition and order of every list: newest first, stable under inserts. */
function keyset<T extends Listed>(table: T, cursor: Cursor | undefined): SQL | undefined {
  return cursor ? sql`(${table.createdAt}, ${table.id}) < (${cursor.createdAt}::timestamptz, ${cursor.id}::uuid)` : undefined;
}
const newestFirst = <T extends Listed>(table: T) => [desc(table.createdAt), desc(table.id)];
const cursorAt = <T extends Listed>(table: T) => sql<string>`${table.createdAt}::text`;

// ——— tenants and keys ———

/**
 * Creates a tenant and its first key in one statement; null when the tenant id is taken (nothing
 * is written then).
 */
export async function createTenantWithKey(
  db: Database,
  { tenant, key }: { tenant: { id: string; name: string }; key: { name: string; displayPrefix: string; keyHash: string } },
): Promise<{ tenant: Tenant; key: AdminKey } | null> {
  const result = await db.execute<{ key_id: string }>(sql`
    with tenant as (
      insert into ${tenants} (id, name) values (${tenant.id}, ${tenant.name}) on conflict (id) do nothing returning id
    )
    insert into ${adminKeys} (tenant_id, name, display_prefix, key_hash)
    select id, ${key.name}, ${key.displayPrefix}, ${key.keyHash} from tenant
    returning id as key_id`);
  const keyId = result.rows[0]?.key_id;
  if (!keyId) return null;
  const [[createdTenant], [createdKey]] = await db.batch([
    db.select().from(tenants).where(eq(tenants.id, tenant.id)),
    db.select().from(adminKeys).where(eq(adminKeys.id, keyId)),
  ]);
  return { tenant: createdTenant!, key: createdKey! };
}

export async function getTenant(db: Database, { tenantId }: { tenantId: string }): Promise<Tenant | null> {
  const [row] = await db.select().from(tenants).where(eq(tenants.id, tenantId)).limit(1);
  return row ?? null;
}

export async function insertAdminKey(
  db: Database,
  { tenantId, name, displayPrefix, keyHash }: { tenantId: string; name: string; displayPrefix: string; keyHash: string },
): Promise<AdminKey> {
  const [row] = await db.insert(adminKeys).values({ tenantId, name, displayPrefix, keyHash }).returning();
  return row!;
}

/** The key with this hash, revoked or not; null when there is none. */
export async function findAdminKeyByHash(db: Database, { keyHash }: { keyHash: string }): Promise<AdminKey | null> {
  const [row] = await db.select().from(adminKeys).where(eq(adminKeys.keyHash, keyHash)).limit(1);
  return row ?? null;
}

/** Records a use of the key, unless one was recorded less than `minIntervalS` seconds ago. */
export async function touchAdminKey(db: Database, { keyId, minIntervalS }: { keyId: string; minIntervalS: number }): Promise<void> {
  await db
    .update(adminKeys)
    .set({ lastUsedAt: sql`now()` })
    .where(
      and(
        eq(adminKeys.id, keyId),
        sql`(${adminKeys.lastUsedAt} is null or ${adminKeys.lastUsedAt} < now() - make_interval(secs => ${minIntervalS}))`,
      ),
    );
}

export async function listAdminKeys(db: Database, { tenantId, limit, cursor }: { tenantId: string } & PageQuery): Promise<Keyed<AdminKey>[]> {
  return db
    .select({ row: adminKeys, cursorAt: cursorAt(adminKeys) })
    .from(adminKeys)
    .where(and(eq(adminKeys.tenantId, tenantId), keyset(adminKeys, cursor)))
    .orderBy(...newestFirst(adminKeys))
    .limit(limit + 1);
}

/** Revokes the key (the first revocation's time is kept); null when the tenant has no such key. */
export async function revokeAdminKey(db: Database, { tenantId, keyId }: { tenantId: string; keyId: string }): Promise<AdminKey | null> {
  const [row] = await db
    .update(adminKeys)
    .set({ revokedAt: sql`coalesce(${adminKeys.revokedAt}, now())` })
    .where(and(eq(adminKeys.id, keyId), eq(adminKeys.tenantId, tenantId)))
    .returning();
  return row ?? null;
}

// ——— templates ———

export async function insertTemplate(db: Database, { template }: { template: NewTemplate }): Promise<Template> {
  const [row] = await db.insert(templates).values(template).returning();
  return row!;
}

export async function listTemplates(db: Database, { tenantId, limit, cursor }: { tenantId: string } & PageQuery): Promise<Keyed<Template>[]> {
  return db
    .select({ row: templates, cursorAt: cursorAt(templates) })
    .from(templates)
    .where(and(eq(templates.tenantId, tenantId), keyset(templates, cursor)))
    .orderBy(...newestFirst(templates))
    .limit(limit + 1);
}

export async function getTemplate(db: Database, { tenantId, templateId }: { tenantId: string; templateId: string }): Promise<Template | null> {
  const [row] = await db
    .select()
    .from(templates)
    .where(and(eq(templates.id, templateId), eq(templates.tenantId, tenantId)))
    .limit(1);
  return row ?? null;
}

/** What a conditional update found: the new row, or why there is none. */
export type UpdateResult<T> = { ok: true; row: T } | { ok: false; reason: "not_found" | "stale" };

/**
 * Writes `set` and bumps the version, only if the row is the tenant's and — when `version` is
 * given — still at that version: optimistic concurrency in one statement.
 */
export async function updateTemplate(
  db: Database,
  { tenantId, templateId, version, set }: { tenantId: string; templateId: string; version?: number; set: Partial<NewTemplate> },
): Promise<UpdateResult<Template>> {
  const [row] = await db
    .update(templates)
    .set({ ...set, version: sql`${templates.version} + 1`, updatedAt: sql`now()` })
    .where(and(eq(templates.id, templateId), eq(templates.tenantId, tenantId), version === undefined ? undefined : eq(templates.version, version)))
    .returning();
  if (row) return { ok: true, row };
  return { ok: false, reason: (await getTemplate(db, { tenantId, templateId })) ? "stale" : "not_found" };
}

/** The widgets that keep a template from being deleted. */
export interface TemplateUser {
  id: string;
  publicKey: string;
}

/**
 * Deletes the template unless a widget uses it, in one statement. Sessions of a deleted template
 * keep their transcript (their `template_id` becomes null).
 */
export async function deleteTemplateUnlessUsed(
  db: Database,
  { tenantId, templateId }: { tenantId: string; templateId: string },
): Promise<{ found: boolean; deleted: boolean; usedBy: TemplateUser[] }> {
  const result = await db.execute<{ found: boolean; deleted: number; used_by: TemplateUser[] | null }>(sql`
    with target as (
      select id from ${templates} where id = ${templateId} and tenant_id = ${tenantId}
    ), users as (
      select w.id, w.public_key from ${widgets} w join target on w.template_id = target.id
    ), deleted as (
      delete from ${templates} where id in (select id from target) and not exists (select 1 from users) returning id
    )
    select exists (select 1 from target) as found,
           (select count(*) from deleted)::int as deleted,
           (select json_agg(json_build_object('id', id, 'publicKey', public_key) order by id) from users) as used_by`);
  const row = result.rows[0]!;
  return { found: row.found, deleted: row.deleted > 0, usedBy: row.used_by ?? [] };
}

// ——— widgets ———

export async function insertWidget(db: Database, { widget }: { widget: NewWidget }): Promise<Widget> {
  const [row] = await db.insert(widgets).values(widget).returning();
  return row!;
}

export async function listWidgets(
  db: Database,
  { tenantId, templateId, limit, cursor }: { tenantId: string; templateId?: string } & PageQuery,
): Promise<Keyed<Widget>[]> {
  return db
    .select({ row: widgets, cursorAt: cursorAt(widgets) })
    .from(widgets)
    .where(
      and(eq(widgets.tenantId, tenantId), templateId === undefined ? undefined : eq(widgets.templateId, templateId), keyset(widgets, cursor)),
    )
    .orderBy(...newestFirst(widgets))
    .limit(limit + 1);
}

export async function getWidget(db: Database, { tenantId, widgetId }: { tenantId: string; widgetId: string }): Promise<Widget | null> {
  const [row] = await db
    .select()
    .from(widgets)
    .where(and(eq(widgets.id, widgetId), eq(widgets.tenantId, tenantId)))
    .limit(1);
  return row ?? null;
}

/** As `updateTemplate`, for a widget (also used to rotate its public key). */
export async function updateWidget(
  db: Database,
  { tenantId, widgetId, version, set }: { tenantId: string; widgetId: string; version?: number; set: Partial<NewWidget> },
): Promise<UpdateResult<Widget>> {
  const [row] = await db
    .update(widgets)
    .set({ ...set, version: sql`${widgets.version} + 1`, updatedAt: sql`now()` })
    .where(and(eq(widgets.id, widgetId), eq(widgets.tenantId, tenantId), version === undefined ? undefined : eq(widgets.version, version)))
    .returning();
  if (row) return { ok: true, row };
  return { ok: false, reason: (await getWidget(db, { tenantId, widgetId })) ? "stale" : "not_found" };
}

/** Deletes the widget with its sessions and their messages; false when the tenant has no such widget. */
export async function deleteWidget(db: Database, { tenantId, widgetId }: { tenantId: string; widgetId: string }): Promise<boolean> {
  const rows = await db
    .delete(widgets)
    .where(and(eq(widgets.id, widgetId), eq(widgets.tenantId, tenantId)))
    .returning({ id: widgets.id });
  return rows.length > 0;
}

// ——— sessions ———

export interface SessionFilter {
  widgetId?: string;
  /** The merchant's visitor id of verified sessions. */
  visitorId?: string;
  status?: SessionStatus;
  /** Inclusive lower and exclusive upper bounds. */
  createdFrom?: Date;
  createdTo?: Date;
  lastActivityFrom?: Date;
  lastActivityTo?: Date;
}

export async function listSessions(
  db: Database,
  { tenantId, filter, limit, cursor }: { tenantId: string; filter: SessionFilter } & PageQuery,
): Promise<Keyed<ChatSession>[]> {
  const t = chatSessions;
  return db
    .select({ row: t, cursorAt: cursorAt(t) })
    .from(t)
    .where(
      and(
        eq(t.tenantId, tenantId),
        filter.widgetId === undefined ? undefined : eq(t.widgetId, filter.widgetId),
        filter.visitorId === undefined ? undefined : eq(t.visitorId, filter.visitorId),
        filter.status === undefined ? undefined : eq(t.status, filter.status),
        filter.createdFrom === undefined ? undefined : gte(t.createdAt, filter.createdFrom),
        filter.createdTo === undefined ? undefined : lt(t.createdAt, filter.createdTo),
        filter.lastActivityFrom === undefined ? undefined : gte(t.lastActivityAt, filter.lastActivityFrom),
        filter.lastActivityTo === undefined ? undefined : lt(t.lastActivityAt, filter.lastActivityTo),
        keyset(t, cursor),
      ),
    )
    .orderBy(...newestFirst(t))
    .limit(limit + 1);
}

export interface Transcript {
  session: ChatSession;
  messages: ChatMessage[];
  /** The session's turns in order, from the usage record. */
  turns: TurnUsage[];
}

/** A session of the tenant with every message and every turn's usage: one round trip. */
export async function getTranscript(db: Database, { tenantId, sessionId }: { tenantId: string; sessionId: string }): Promise<Transcript | null> {
  const [sessionRows, messageRows, turnRows] = await db.batch([
    db
      .select()
      .from(chatSessions)
      .where(and(eq(chatSessions.id, sessionId), eq(chatSessions.tenantId, tenantId)))
      .limit(1),
    db
      .select()
      .from(chatMessages)
      .innerJoin(chatSessions, eq(chatSessions.id, chatMessages.sessionId))
      .where(and(eq(chatMessages.sessionId, sessionId), eq(chatSessions.tenantId, tenantId)))
      .orderBy(chatMessages.idx),
    db
      .select()
      .from(turnUsage)
      .where(and(eq(turnUsage.sessionId, sessionId), eq(turnUsage.tenantId, tenantId)))
      .orderBy(turnUsage.createdAt, turnUsage.id),
  ]);
  const session = sessionRows[0];
  return session ? { session, messages: messageRows.map((row) => row.chat_messages), turns: turnRows } : null;
}

/** Ends the tenant's session if active (the first end wins); the session as it now stands, or null. */
export async function endTenantSession(
  db: Database,
  { tenantId, sessionId, reason }: { tenantId: string; sessionId: string; reason: string },
): Promise<ChatSession | null> {
  const scope = and(eq(chatSessions.id, sessionId), eq(chatSessions.tenantId, tenantId));
  const [updated] = await db
    .update(chatSessions)
    .set({ status: "ended", endedAt: sql`now()`, endedReason: reason, lastActivityAt: sql`now()` })
    .where(and(scope, eq(chatSessions.status, "active")))
    .returning();
  if (updated) return updated;
  const [row] = await db.select().from(chatSessions).where(scope).limit(1);
  return row ?? null;
}

/** Deletes the tenant's session and its messages (cascade); false when there is no such session. */
export async function deleteTenantSession(db: Database, { tenantId, sessionId }: { tenantId: string; sessionId: string }): Promise<boolean> {
  const rows = await db
    .delete(chatSessions)
    .where(and(eq(chatSessions.id, sessionId), eq(chatSessions.tenantId, tenantId)))
    .returning({ id: chatSessions.id });
  return rows.length > 0;
}

// ——— usage ———

/** Sums over a set of turns. */
export interface UsageTotals {
  turns: number;
  sessions: number;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  reasoningTokens: number;
  toolCalls: number;
}

export interface UsageRow extends UsageTotals {
  /** UTC day, `YYYY-MM-DD`. */
  date: string;
  widgetId: string;
}

type RawTotals = { turns: string; sessions: string; input: string; output: string; cached: string; reasoning: string; tools: string };

const totalsSql = sql`count(*) as turns, count(distinct session_id) as sessions,
  coalesce(sum(input_tokens), 0) as input, coalesce(sum(output_tokens), 0) as output,
  coalesce(sum(cached_input_tokens), 0) as cached, coalesce(sum(reasoning_tokens), 0) as reasoning,
  coalesce(sum(tool_calls), 0) as tools`;

function totalsOf(row: RawTotals): UsageTotals {
  return {
    turns: Number(row.turns),
    sessions: Number(row.sessions),
    inputTokens: Number(row.input),
    outputTokens: Number(row.output),
    cachedInputTokens: Number(row.cached),
    reasoningTokens: Number(row.reasoning),
    toolCalls: Number(row.tools),
  };
}

/**
 * Usage per widget and UTC day over `[from, to)` (day starts), ordered by day then widget, a page
 * after `after`; and the totals of the whole range. One round trip.
 */
export async function getUsage(
  db: Database,
  { tenantId, from, to, widgetId, limit, after }: {
    tenantId: string;
    from: string;
    to: string;
    widgetId?: string;
    limit: number;
    after?: { date: string; widgetId: string };
  },
): Promise<{ rows: UsageRow[]; totals: UsageTotals }> {
  const day = sql`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD')`;
  const scope = sql`tenant_id = ${tenantId}
    and created_at >= (${from}::date)::timestamp at time zone 'UTC'
    and created_at < (${to}::date)::timestamp at time zone 'UTC'
    ${widgetId === undefined ? sql`` : sql`and widget_id = ${widgetId}::uuid`}`;
  const page = after ? sql`having (${day}, widget_id) > (${after.date}, ${after.widgetId}::uuid)` : sql``;
  const [perDay, total] = await db.batch([
    db.execute<RawTotals & { date: string; widget_id: string }>(sql`
      select ${day} as date, widget_id, ${totalsSql} from ${turnUsage} where ${scope}
      group by 1, 2 ${page} order by 1, 2 limit ${limit + 1}`),
    db.execute<RawTotals>(sql`select ${totalsSql} from ${turnUsage} where ${scope}`),
  ]);
  return {
    rows: perDay.rows.map((row) => ({ date: row.date, widgetId: row.widget_id, ...totalsOf(row) })),
    totals: totalsOf(total.rows[0]!),
  };
}
