import { describe, expect, it } from 'vitest';
import { type DomainEvent, isQueuedEvent } from './events.js';
import { dispatchJob, domainEventJob, type SMS_INBOUND_QUEUE } from './jobs.js';

describe('job registry', () => {
  it('a domain event is a job named by its type with its id as the job id', () => {
    const e: DomainEvent<'device.online'> = {
      id: 'e1',
      type: 'device.online',
      deviceId: '00000000-0000-0000-0000-000000000001',
      occurredAt: 1,
      payload: { offlineSince: 0, at: 1, spurious: false },
    };
    expect(domainEventJob(e)).toEqual({ name: 'device.online', data: e, opts: { jobId: 'e1' } });
  });

  it('only the event types the alerts act on are queued', () => {
    const base = { id: 'e1', deviceId: '00000000-0000-0000-0000-000000000001', occurredAt: 1 };
    const reconnected: DomainEvent = { ...base, type: 'device.reconnected', payload: { at: 1 } };
    const offline: DomainEvent = {
      ...base,
      type: 'device.offline',
      payload: { lastActivity: 0, inactiveAt: 1, detectedAt: 1 },
    };
    expect([reconnected, offline].map(isQueuedEvent)).toEqual([false, true]);
  });

  it('sms-inbound jobs are dispatched by name; an unregistered name goes to the fallback', async () => {
    const seen: string[] = [];
    const run = dispatchJob<typeof SMS_INBOUND_QUEUE, { name: string; data: unknown }, void>(
      {
        receipt: (job) => void seen.push(`receipt ${job.data.receipt.messageId}`),
        message: (job) => void seen.push(`message ${job.data.message.from}`),
      },
      (job) => void seen.push(`unknown ${job.name}`),
    );
    await run({
      name: 'receipt',
      data: { kind: 'receipt', key: 'k1', receipt: { messageId: 'm1', status: 'delivered', state: 'DELIVRD' } },
    });
    await run({
      name: 'message',
      data: { kind: 'message', key: 'k2', message: { from: '+94770000000', to: '1234', text: 'OK' } },
    });
    await run({ name: 'toString', data: {} });
    expect(seen).toEqual(['receipt m1', 'message +94770000000', 'unknown toString']);
  });
});
