/** Download slots on a real Redis (own key prefix), two connections standing for two brokers. */
import { createLogger } from '@spms/log';
import { createTestRedis, type TestRedis } from '@spms/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDownloadSlots, type DownloadSlots } from './download-slots.js';

const logger = createLogger({ name: 'slots-test', level: 'silent', pretty: false });
let t: TestRedis;
let r1: Redis;
let r2: Redis;

beforeAll(() => {
  t = createTestRedis('download_slots');
  r1 = new Redis(t.url);
  r2 = new Redis(t.url);
});
afterAll(async () => {
  r1.disconnect();
  r2.disconnect();
  await t.cleanup();
});

const never = () => false;
const two = (
  prefix: string,
  opts: { max: number; idleMs: number; waitMs: number; maxHoldMs?: number },
): [DownloadSlots, DownloadSlots] => [
  createDownloadSlots(r1, { prefix, logger, maxHoldMs: 3_600_000, ...opts }),
  createDownloadSlots(r2, { prefix, logger, maxHoldMs: 3_600_000, ...opts }),
];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('download slots', () => {
  it('never admits more than max devices, however many ask at once through two connections', async () => {
    const [a, b] = two(`${t.prefix}:race`, { max: 3, idleMs: 60_000, waitMs: 0 });
    const devices = Array.from({ length: 40 }, (_, i) => `dev-${i}`);
    const verdicts = await Promise.all(devices.map((d, i) => (i % 2 ? a : b).admit(d, never)));
    const admitted = devices.filter((_, i) => verdicts[i] === 'admitted');
    expect(admitted).toHaveLength(3);
    expect(await a.active()).toBe(3);
    // A device holding a slot keeps it for its next chunk; the others still wait.
    expect(await b.admit(admitted[0] as string, never)).toBe('admitted');
    expect(await a.admit('dev-late', never)).toBe('timeout');
  });

  it('a freed slot goes to the device that has waited longest, not to whoever asks next', async () => {
    const [a, b] = two(`${t.prefix}:fifo`, { max: 1, idleMs: 60_000, waitMs: 0 });
    expect(await a.admit('holder', never)).toBe('admitted');
    expect(await b.admit('first', never)).toBe('timeout');
    expect(await a.admit('second', never)).toBe('timeout');
    await a.release('holder');
    expect(await a.admit('second', never)).toBe('timeout'); // not its turn
    expect(await b.admit('first', never)).toBe('admitted');
    await b.release('first');
    expect(await a.admit('second', never)).toBe('admitted');
  });

  it('holds a request until a slot frees (idle or released), and gives up after waitMs', async () => {
    const [a, b] = two(`${t.prefix}:hold`, { max: 1, idleMs: 300, waitMs: 5_000 });
    expect(await a.admit('idler', never)).toBe('admitted');
    // The idler asks nothing more: its slot frees after idleMs and the waiter gets it.
    expect(await b.admit('waiter', never)).toBe('admitted');
    const [c] = two(`${t.prefix}:hold`, { max: 1, idleMs: 60_000, waitMs: 200 });
    expect(await (c as DownloadSlots).admit('late', never)).toBe('timeout');
    let gone = false;
    const pending = a.admit('leaver', () => gone);
    gone = true;
    expect(await pending).toBe('gone');
    for (const s of [a, b, c as DownloadSlots]) s.close();
  });

  it('a slot is held maxHoldMs at most: a device re-asking inside idleMs then queues behind the waiters', async () => {
    const [a, b] = two(`${t.prefix}:maxhold`, { max: 1, idleMs: 60_000, waitMs: 0, maxHoldMs: 600 });
    expect(await a.admit('hog', never)).toBe('admitted');
    expect(await b.admit('waiter', never)).toBe('timeout');
    await sleep(300);
    expect(await a.admit('hog', never)).toBe('admitted'); // re-asking keeps it, within maxHoldMs
    expect(await b.admit('waiter', never)).toBe('timeout');
    await sleep(400);
    // Past maxHoldMs since it got the slot: taken back, the hog is now behind the waiter.
    expect(await a.admit('hog', never)).toBe('timeout');
    expect(await b.admit('waiter', never)).toBe('admitted');
    expect(await a.active()).toBe(1);
    await b.release('waiter');
    expect(await a.admit('hog', never)).toBe('admitted');
    // Nobody waiting: past maxHoldMs the holder gets a slot again at once (a new hold).
    await sleep(700);
    expect(await a.admit('hog', never)).toBe('admitted');
    await sleep(300);
    expect(await a.admit('hog', never)).toBe('admitted');
  });
});
