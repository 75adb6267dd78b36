/**
 * Rotated or revoked credentials end the device's live session and refuse its old
 * credentials within 5 s even when nobody announces the change on Redis (a lost pub/sub
 * message): the gateway learns it from PostgreSQL.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Harness, startHarness, until } from './test-support/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness('broker_revocation');
});
afterAll(() => h?.close());

it('a rotated token closes the live session and is refused, without the pub/sub message', async () => {
  const deviceId = await h.addDevice('0012_MSAN', { type: 'ACCESS_TOKEN', token: 'token-0012-old' });
  const live = await h.connect({ clientId: 'modem-0012', username: 'token-0012-old' });
  await live.publishAsync('v1/devices/me/telemetry', '{"V":230}', { qos: 1 });
  let closed = false;
  live.on('close', () => {
    closed = true;
  });

  await h.setCredentials(deviceId, { type: 'ACCESS_TOKEN', token: 'token-0012-new' }); // no announcement
  await until(() => closed, 5000);
  await expect(h.connect({ clientId: 'modem-0012', username: 'token-0012-old' })).rejects.toThrow(/Not authorized/i);
  const renewed = await h.connect({ clientId: 'modem-0012', username: 'token-0012-new' });
  await renewed.publishAsync('v1/devices/me/telemetry', '{"V":231}', { qos: 1 });
  await renewed.endAsync();
});

it('a deleted device is disconnected without the pub/sub message', async () => {
  const deviceId = await h.addDevice('0013_MSAN', { type: 'ACCESS_TOKEN', token: 'token-0013' });
  const live = await h.connect({ clientId: 'modem-0013', username: 'token-0013' });
  let closed = false;
  live.on('close', () => {
    closed = true;
  });
  await h.sql.query('DELETE FROM devices WHERE id = $1', [deviceId]);
  await until(() => closed, 5000);
  await expect(h.connect({ clientId: 'modem-0013', username: 'token-0013' })).rejects.toThrow(/Not authorized/i);
});
