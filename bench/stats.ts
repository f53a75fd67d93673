/** Figures from one scenario's turns, the fake model's timings and the shims' request logs. */
import type { ShimRequestRecord } from "../dev/shim-server";
import type { ReplyTiming } from "../test/support/fake-openai";
import type { TurnResult } from "./client";

/** Requests of one store in the three phases of a turn. */
export interface PhaseCounts {
  /** From the client's send to the model request's arrival. */
  before: number;
  /** From the model request's arrival to the model's last token. */
  streaming: number;
  /** After the model's last token, until the next turn is sent (or the run settles). */
  after: number;
  /** Command names or statement verbs sent before the model, with their counts. */
  beforeCommands: Record<string, number>;
}

export interface TurnTiming {
  turn: TurnResult;
  model?: ReplyTiming;
  /** Client TTFT − model TTFT, in ms. */
  overheadMs?: number;
  /** The part of the overhead before the model request arrived: its arrival − the client's send, in ms. */
  toModelMs?: number;
  /** Client's last token − model's last token, in ms. */
  lagMs?: number;
}

/** Pairs each turn with the model request it caused (by its unique user text). */
export function pairTimings(turns: TurnResult[], timings: ReplyTiming[]): TurnTiming[] {
  const byMarker = new Map(timings.map((timing) => [timing.userText, timing]));
  return turns.map((turn) => {
    const model = byMarker.get(turn.marker);
    if (!model || model.firstTokenAt === null || model.lastTokenAt === null || turn.firstDeltaAt === null || turn.lastDeltaAt === null) {
      return { turn, model };
    }
    const overheadMs = turn.firstDeltaAt - turn.sentAt - (model.firstTokenAt - model.arrivedAt);
    return { turn, model, overheadMs, toModelMs: model.arrivedAt - turn.sentAt, lagMs: turn.lastDeltaAt - model.lastTokenAt };
  });
}

/** Nearest-rank percentile of `values` (0 < p ≤ 100); NaN when empty. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * Splits a store's requests into the phases of sequential turns (one session): each request
 * belongs to the last turn sent before it arrived. Averages per turn.
 */
export function phasesPerTurn(timed: TurnTiming[], log: ShimRequestRecord[]): PhaseCounts {
  const total: PhaseCounts = { before: 0, streaming: 0, after: 0, beforeCommands: {} };
  const sorted = [...timed].sort((a, b) => a.turn.sentAt - b.turn.sentAt);
  for (const record of log) {
    const owner = sorted.findLast((t) => t.turn.sentAt <= record.at);
    if (!owner?.model) continue;
    if (record.at < owner.model.arrivedAt) {
      total.before++;
      for (const command of record.commands) total.beforeCommands[command] = (total.beforeCommands[command] ?? 0) + 1;
    } else if (record.at <= (owner.model.lastTokenAt ?? Number.POSITIVE_INFINITY)) total.streaming++;
    else total.after++;
  }
  const turns = Math.max(1, timed.length);
  const perTurn = (n: number) => Math.round((n / turns) * 10) / 10;
  return {
    before: perTurn(total.before),
    streaming: perTurn(total.streaming),
    after: perTurn(total.after),
    beforeCommands: Object.fromEntries(Object.entries(total.beforeCommands).map(([name, n]) => [name, perTurn(n)])),
  };
}

/**
 * The reply buffer's writes (src/turn/resume-buffer.ts: the Upstash requests carrying `RPUSH`)
 * per turn, and per second of the model's streaming (request arrival to last token).
 */
export function bufferWrites(timed: TurnTiming[], log: ShimRequestRecord[]): { perTurn: number; perSecond: number } {
  const writes = log.filter((record) => record.commands.includes("RPUSH")).length;
  const streamingMs = timed.reduce((sum, t) => sum + (t.model?.lastTokenAt != null ? t.model.lastTokenAt - t.model.arrivedAt : 0), 0);
  return { perTurn: writes / Math.max(1, timed.length), perSecond: streamingMs > 0 ? writes / (streamingMs / 1000) : Number.NaN };
}

/** Prints a table: the first column left-aligned, the figures right-aligned. */
export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}
