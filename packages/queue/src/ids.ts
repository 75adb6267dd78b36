/**
 * Message ids: unique across gateway processes and roughly time-sortable, so a batch's
 * ids read in receive order and a log line's id says when it arrived.
 * Layout: 9 chars of base36 epoch ms | 8 chars of per-process randomness | 6 chars of a
 * per-process counter (base36). Collisions need two processes with the same 41 random
 * bits issuing the same counter value in the same millisecond.
 */
import { randomBytes } from 'node:crypto';

const processTag = randomBytes(6).toString('hex').slice(0, 8);
let counter = 0;
const COUNTER_SPACE = 36 ** 6;

export function newMessageId(): string {
  counter = (counter + 1) % COUNTER_SPACE;
  return `${Date.now().toString(36).padStart(9, '0')}${processTag}${counter.toString(36).padStart(6, '0')}`;
}

/**
 * The gateway receive time encoded in a message id from `newMessageId`, or null for an id
 * of another form (e.g. written by a test or an importer).
 */
export function receivedAtOfMessageId(msgId: string): number | null {
  const head = msgId.slice(0, 9);
  if (!/^[0-9a-z]{9}$/.test(head)) return null;
  const ms = Number.parseInt(head, 36);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * Ids of history posted by an importer (POST /api/devices/:id/telemetry) begin with this:
 * never a `newMessageId` (no receive time is read from them), and the worker marks what
 * they start as imported (source 'import': no alerts, no device activity).
 */
export const IMPORTED_MESSAGE_ID_PREFIX = 'hist-';

export const isImportedMessageId = (msgId: string): boolean => msgId.startsWith(IMPORTED_MESSAGE_ID_PREFIX);
