/**
 * A device that gave up waiting for its CONNACK (a reconnect storm on a busy broker) has
 * closed its socket by the time the broker's credential look-up returns. That late
 * authentication must not register a session: it would replace the one the device opened
 * since, record a phantom connect, and keep the storm going. The look-up is held back
 * deterministically by locking the credentials table while the socket closes.
 */
import { connect as netConnect } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPacket, type Harness, startHarness, until } from './test-support/harness.js';

let h: Harness;
const creds = { type: 'MQTT_BASIC' as const, clientId: 'msan-stale', username: 'u-stale', password: 'stale-pass-001' };
let deviceId: string;

beforeAll(async () => {
  h = await startHarness('broker_stale_connect', { CONNECT_TIMEOUT_MS: '60000' });
  deviceId = await h.addDevice('0042_MSAN', creds);
});
afterAll(() => h?.close());

async function metric(line: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${h.gateway.httpPort}/metrics`)).text();
  const found = text.split('\n').find((l) => l.startsWith(line));
  return found ? Number(found.slice(line.length).trim()) : 0;
}

describe('a CONNECT whose device has already gone', () => {
  it('is not registered when its authentication completes after the socket closed', async () => {
    const since = await h.mark();
    const locker = new pg.Client({ connectionString: h.db.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE device_credentials IN ACCESS EXCLUSIVE MODE');
      const sock = netConnect(h.gateway.mqttPort, '127.0.0.1');
      await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
      sock.write(connectPacket(creds.clientId, creds.username, creds.password));
      // The broker's look-up is waiting on the lock… (pg_stat_activity is read once per
      // transaction unless the snapshot is cleared: the look-up may open its connection after
      // the first read.)
      await until(async () => {
        await locker.query('SELECT pg_stat_clear_snapshot()');
        const { rows } = await locker.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name = 'spms-device-auth' AND wait_event_type = 'Lock'`,
        );
        return rows.length > 0;
      });
      // …when the device gives up and closes, and the broker sees it go.
      sock.destroy();
      await until(async () => (await metric('spms_broker_pending_connections')) === 0);
      await locker.query('COMMIT');
      await until(async () => (await metric('spms_broker_refusals_total{reason="gone_before_connack"}')) === 1);
    } finally {
      await locker.end();
    }
    expect(await metric('spms_broker_connects_total{result="accepted"}')).toBe(0);
    expect((await since()).filter((m) => m.deviceId === deviceId)).toEqual([]); // no phantom connect
    // The device itself connects normally afterwards.
    const c = await h.connect({ ...creds, password: creds.password });
    expect(c.connected).toBe(true);
    c.end(true);
  });
});
