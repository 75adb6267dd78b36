/**
 * In-process retries with exponential back-off, for callers without a job queue (a CLI test
 * send, a small install). The alerts worker should instead let BullMQ retry: call
 * provider.send(), and on failure use classifyTwilioError() to throw UnrecoverableError when
 * `retry` is false, so permanent failures are not retried there either.
 */
import { classifyTwilioError, type ErrorClassification } from './twilio-errors.js';
import type { SendResult, SmsMessage, SmsProvider } from './types.js';

export interface RetryOptions {
  /** Total tries including the first. Default 4. */
  attempts?: number;
  /** Delay before the 2nd try; doubles each time. Default 1000 ms. */
  baseDelayMs?: number;
  /** Cap on one delay. Default 30 s. */
  maxDelayMs?: number;
  /** Randomise each delay within [d/2, d] so many workers throttled together do not retry in step. Default true. */
  jitter?: boolean;
  /** Called before each wait, e.g. to log. */
  onRetry?: (info: { attempt: number; delayMs: number; classification: ErrorClassification }) => void;
  /** Injected for tests; default setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  /** Injected for tests; default Math.random. */
  random?: () => number;
}

export type DeliveryOutcome =
  | { ok: true; result: SendResult; attempts: number }
  | {
      ok: false;
      /** true when every attempt failed with a retryable error; false when the first permanent one stopped us. */
      exhausted: boolean;
      code?: number;
      status?: number;
      reason: string;
      attempts: number;
    };

/** Delay before attempt `attempt + 1` (attempt counts from 1): base · 2^(attempt−1), capped, optionally jittered. */
export function backoffDelay(
  attempt: number,
  opts: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs' | 'jitter' | 'random'> = {},
): number {
  const { baseDelayMs = 1000, maxDelayMs = 30_000, jitter = true, random = Math.random } = opts;
  const d = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return jitter ? Math.round(d / 2 + (random() * d) / 2) : d;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Sends, retrying retryable failures; never throws for a send failure — the outcome says what happened. */
export async function sendWithRetry(
  provider: SmsProvider,
  msg: SmsMessage,
  opts: RetryOptions = {},
): Promise<DeliveryOutcome> {
  const attempts = Math.max(1, opts.attempts ?? 4);
  const sleep = opts.sleep ?? defaultSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await provider.send(msg);
      return { ok: true, result, attempts: attempt };
    } catch (err) {
      const c = classifyTwilioError(err);
      if (!c.retry || attempt >= attempts) {
        return {
          ok: false,
          exhausted: c.retry,
          reason: c.reason,
          attempts: attempt,
          ...(c.code !== undefined ? { code: c.code } : {}),
          ...(c.status !== undefined ? { status: c.status } : {}),
        };
      }
      const delayMs = backoffDelay(attempt, opts);
      opts.onRetry?.({ attempt, delayMs, classification: c });
      await sleep(delayMs);
    }
  }
}
