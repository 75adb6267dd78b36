/**
 * Shutting a broker down while devices are connected (SIGTERM from the supervisor or a
 * rolling deploy): the close completes instead of waiting for the devices to leave, and the
 * sessions end as the server's doing ('shutdown'), not as lost links.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness, until } from './test-support/harness.js';

let h: Harness;
beforeAll(async () => {
  // The shipped defaults (no limit overrides) but for the TLS-less test ports.
  h = await startHarness('broker_shutdown', { MQTT_WS_PORT: '0' });
  await h.addDevice('S1_MSAN', { type: 'ACCESS_TOKEN', token: 'token-shutdown-1' });
  await h.addDevice('S2_MSAN', { type: 'ACCESS_TOKEN', token: 'token-shutdown-2' });
});
afterAll(async () => {
  await h?.close();
});

describe('closing the broker with devices still connected', () => {
  it('closes their sessions, then its listeners, and records the shutdown as the reason', async () => {
    const mark = await h.mark();
    const tcp = await h.connect({ username: 'token-shutdown-1', clientId: 's1' });
    const ws = await h.connect({ username: 'token-shutdown-2', clientId: 's2', protocol: 'ws' });
    const closed = Promise.all([tcp, ws].map((c) => new Promise<void>((r) => c.once('close', () => r()))));
    await until(async () => (await mark()).filter((m) => m.kind === 'connectivity').length >= 2);
    const outcome = await Promise.race([
      h.gateway.close().then(() => 'closed'),
      new Promise((r) => setTimeout(() => r('still waiting after 10 s'), 10_000).unref()),
    ]);
    expect(outcome).toBe('closed');
    await closed;
    await until(async () => (await mark()).filter((m) => m.kind === 'connectivity').length >= 4);
    const ends = (await mark()).filter((m) => m.kind === 'connectivity' && m.event !== 'connect');
    expect(ends.map((m) => (m.kind === 'connectivity' ? [m.event, m.detail] : null))).toEqual([
      ['disconnect', { by: 'server', reason: 'shutdown' }],
      ['disconnect', { by: 'server', reason: 'shutdown' }],
    ]);
  }, 20_000);
});
