/**
 * outgoing-queue.ts: which client ids aedes' in-memory persistence was asked to queue for.
 * Any other persistence is not tracked, so no clean session skips aedes' pass over its queue.
 */
import { Aedes } from 'aedes';
import { afterAll, describe, expect, it } from 'vitest';
import { type ConnectPersistence, neverQueuedFor, trackOutgoing } from './outgoing-queue.js';

const brokers: Aedes[] = [];
afterAll(async () => {
  for (const b of brokers) await new Promise<void>((r) => b.close(() => r()));
});
const packet = { cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 1, retain: false, brokerCounter: 1 };

describe('trackOutgoing', () => {
  it("notes the ids aedes' in-memory persistence queues for, through either enqueue", async () => {
    const broker = await Aedes.createBroker({});
    brokers.push(broker);
    const p = (broker as unknown as { persistence: ConnectPersistence }).persistence;
    expect(trackOutgoing(p)).toBe(true);
    expect(neverQueuedFor(p, 'a')).toBe(true);
    await p.outgoingEnqueue({ clientId: 'a' }, packet);
    await p.outgoingEnqueueCombi([{ clientId: 'b' }, { clientId: 'c' }], packet);
    expect(['a', 'b', 'c', 'd'].map((id) => neverQueuedFor(p, id))).toEqual([false, false, false, true]);
    // The packets really were queued (the wrapper passes them on).
    const queued: unknown[] = [];
    for await (const q of p.outgoingStream({ id: 'b' }) as AsyncIterable<unknown>) queued.push(q);
    expect(queued).toHaveLength(1);
  });

  it('leaves any other persistence alone: nothing is ever taken as never queued', () => {
    const shared = { outgoingEnqueue: async () => {}, outgoingEnqueueCombi: async () => {} };
    expect(trackOutgoing(shared)).toBe(false);
    expect(neverQueuedFor(shared as unknown as ConnectPersistence, 'a')).toBe(false);
  });
});
