/**
 * What outage rows and voltage-episode rows share: a start and an end, each with its message
 * id and the window it lies in, the unknown time and the duration. Read with the same columns
 * and turned into the engine's interval fields the same way.
 */
import type { TimedInterval } from '@spms/outage-engine';
import { msOf, toMs } from './sql.js';

/** The shared columns of the table aliased `t` (timestamps as epoch milliseconds). */
export const intervalColumns = (t: string) => `${msOf(`${t}.started_at`)} AS started_at, ${t}.start_msg_id,
  ${msOf(`${t}.start_window_from`)} AS swf, ${msOf(`${t}.start_window_to`)} AS swt,
  ${msOf(`${t}.ended_at`)} AS ended_at, ${t}.end_msg_id,
  ${msOf(`${t}.end_window_from`)} AS ewf, ${msOf(`${t}.end_window_to`)} AS ewt, ${t}.unknown_ms, ${t}.duration_ms`;

export interface IntervalRow {
  started_at: number | null;
  start_msg_id: string;
  swf: number | null;
  swt: number | null;
  ended_at: number | null;
  end_msg_id: string | null;
  ewf: number | null;
  ewt: number | null;
  unknown_ms: string;
  duration_ms: string | null;
}

/**
 * The shared values written for an interval, in the order outages and voltage episodes both
 * pass them: start, its window (from, to), end, its window, unknown time, duration.
 */
export function intervalValues(i: TimedInterval): unknown[] {
  return [
    i.startedAt,
    i.startWindow?.from ?? null,
    i.startWindow?.to ?? null,
    i.endedAt,
    i.endWindow?.from ?? null,
    i.endWindow?.to ?? null,
    i.unknownMs,
    i.durationMs,
  ];
}

export function rowToInterval(r: IntervalRow): TimedInterval {
  return {
    startedAt: toMs(r.started_at) as number,
    startMsgId: r.start_msg_id,
    startWindow: r.swf === null ? null : { from: toMs(r.swf) as number, to: toMs(r.swt) },
    endedAt: toMs(r.ended_at),
    endMsgId: r.end_msg_id,
    endWindow: r.ewf === null ? null : { from: toMs(r.ewf) as number, to: toMs(r.ewt) },
    unknownMs: Number(r.unknown_ms),
    durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
  };
}
