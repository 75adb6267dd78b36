/**
 * Checks an ingest job (contract: packages/queue/src/contracts.ts) message by message with
 * the one definition of a valid message (@spms/telemetry validateIngestMessage, the rules
 * the gateways accept with), timestamps judged against each message's receive time — never
 * this worker's clock — so a message that waited in the queue is judged as the gateway
 * judged it. An invalid message is set apart alone (the caller dead-letters it and
 * processes the others); only a wrong envelope (contract version, no message list) refuses
 * the whole job.
 */
import { CONTRACT_VERSION, type IngestBatch, type IngestMessage } from '@spms/queue';
import { checkBatchEnvelope, validateIngestMessage } from '@spms/telemetry';
import type { InvalidMessage } from './dead-letter.js';

export class InvalidBatchError extends Error {
  override name = 'InvalidBatchError';
}

export interface SplitBatch {
  /** The valid messages, in job order. */
  batch: IngestBatch;
  invalid: InvalidMessage[];
}

/** Splits a job's data into valid messages and invalid ones (with reasons); throws
 *  InvalidBatchError for a whole-job problem. */
export function splitBatch(data: unknown): SplitBatch {
  const bad = checkBatchEnvelope(data);
  if (bad) throw new InvalidBatchError(bad);
  const messages = (data as { messages: unknown[] }).messages;
  const valid: IngestMessage[] = [];
  const invalid: InvalidMessage[] = [];
  for (let i = 0; i < messages.length; i++) {
    const problem = validateIngestMessage(messages[i]);
    if (problem) invalid.push({ index: i, message: messages[i], reason: `messages[${i}].${problem}` });
    else valid.push(messages[i] as IngestMessage);
  }
  return { batch: { v: CONTRACT_VERSION, messages: valid }, invalid };
}
