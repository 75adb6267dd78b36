/**
 * End to end, as a ThingsBoard OTA client does it: a real MQTT client on the gateway
 * (apps/broker) downloads its assigned image in chunks from the large object, checks the
 * SHA-256, and reports its progress with the firmware's single-quoted payloads; the worker
 * (apps/worker) follows the reports into device_firmware.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createLogger } from '@spms/log';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type E2eStack, startE2eStack } from './test-support/stack.js';

const logger = createLogger({ name: 'e2e-fw', level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });
let stack: E2eStack;
let client: MqttClient | undefined;

beforeAll(async () => {
  stack = await startE2eStack('e2e_fw', logger);
});
afterAll(async () => {
  await client?.endAsync(true).catch(() => undefined);
  await stack?.close();
});

describe('firmware over the air, device side', () => {
  it('downloads the image over MQTT, verifies it and reports UPDATED into device_firmware', async () => {
    const image = randomBytes(70_000);
    const sha256 = createHash('sha256').update(image).digest('hex');
    const { rows } = await stack.sql.query<{ id: string }>(
      `INSERT INTO firmware (title, version, size, checksum_algorithm, checksum, sha256, data_oid)
       VALUES ('cabinet', '2.0.0', $1, 'SHA256', $2, $2, lo_from_bytea(0, $3)) RETURNING id`,
      [image.length, sha256, image],
    );
    const creds = { clientId: 'ota-cid', username: 'ota-user', password: 'ota-password' };
    const id = await stack.addMqttDevice('ota-1', creds);
    await stack.sql.query('UPDATE devices SET firmware_id = $1 WHERE id = $2', [rows[0]?.id, id]);

    client = await mqtt.connectAsync({
      host: '127.0.0.1',
      port: stack.gateway.mqttPort,
      protocolVersion: 4,
      reconnectPeriod: 0,
      ...creds,
    });
    const c = client;
    const report = (payload: string) => c.publishAsync('v1/devices/me/telemetry', payload, { qos: 1 });
    const chunks = new Map<number, Buffer>();
    c.on('message', (topic, payload) => {
      const m = /^v2\/fw\/response\/42\/chunk\/(\d+)$/.exec(topic);
      if (m) chunks.set(Number(m[1]), Buffer.from(payload));
    });
    await c.subscribeAsync('v2/fw/response/+/chunk/+', { qos: 1 });
    await report("{'current_fw_title':'cabinet','current_fw_version':'1.0.0'}");
    await report("{'fw_state':'DOWNLOADING'}");

    // Chunk after chunk until an empty answer, as a client that ignores fw_size does.
    const parts: Buffer[] = [];
    for (let n = 0; ; n++) {
      await c.publishAsync(`v2/fw/request/42/chunk/${n}`, '16384', { qos: 1 });
      await expect.poll(() => chunks.has(n)).toBe(true);
      const part = chunks.get(n) as Buffer;
      if (part.length === 0) break;
      parts.push(part);
    }
    expect(parts.map((p) => p.length)).toEqual([16384, 16384, 16384, 16384, 4464]);
    expect(createHash('sha256').update(Buffer.concat(parts)).digest('hex')).toBe(sha256);
    await report("{'fw_state':'DOWNLOADED'}");
    await report("{'fw_state':'VERIFIED'}");
    await report("{'fw_state':'UPDATING'}");
    await report("{'fw_state':'UPDATED','current_fw_title':'cabinet','current_fw_version':'2.0.0'}");

    const firmware = async () =>
      (
        await stack.sql.query(
          'SELECT current_title, current_version, state, error FROM device_firmware WHERE device_id = $1',
          [id],
        )
      ).rows[0];
    await expect
      .poll(firmware)
      .toEqual({ current_title: 'cabinet', current_version: '2.0.0', state: 'UPDATED', error: null });
  });
});
