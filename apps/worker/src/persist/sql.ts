/**
 * Time values cross the pg boundary as epoch-ms float8 (one array per column for unnest);
 * timestamps are stored as timestamptz(3). Converting both ways in SQL keeps equality exact:
 * `tsParam` rounds to the column's millisecond precision before any comparison.
 */
import { IMPORTED_MESSAGE_ID_PREFIX } from '@spms/queue';

export const msOf = (col: string) => `(extract(epoch from ${col}) * 1000)::float8`;
export const tsParam = (expr: string) => `to_timestamp(${expr} / 1000.0)::timestamptz(3)`;
export const toMs = (v: number | null | undefined): number | null =>
  v === null || v === undefined ? null : Math.round(v);
/** msg ids order by UTF-16 code units in the engine: `COLLATE "C"` gives the same order. */
export const C = 'COLLATE "C"';

/** SQL: 'import' when the record's starting report was posted by an importer (history), else 'live'. */
export const sourceOf = (startMsgId: string) =>
  `CASE WHEN ${startMsgId} LIKE '${IMPORTED_MESSAGE_ID_PREFIX}%' THEN 'import' ELSE 'live' END`;
