/**
 * Firmware reports (current_fw_title, current_fw_version, fw_state, fw_error) through the
 * real worker into device_firmware: the firmware's single-quoted MQTT payloads, ThingsBoard's
 * timestamped JSON over HTTP, client attributes; newest report wins, invalid states ignored
 * and counted, redelivery changes nothing.
 */
import type { IngestMessage } from '@spms/queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firmwareReportCounts } from '../src/persist/firmware-state.js';
import { createHarness, type Harness, telemetry } from './test-support/harness.js';

let h: Harness;
let jobs = 0;
const BASE = Date.UTC(2026, 11, 3, 10, 0, 0);

beforeAll(async () => {
  h = await createHarness('firmware_state');
  await h.start();
});
afterAll(() => h?.close());

async function send(...messages: IngestMessage[]): Promise<void> {
  for (const m of messages) await h.enqueue([m]);
  jobs += messages.length;
  await h.drained(jobs);
}

const http = (deviceId: string, payload: string, receivedAt: number, id?: string): IngestMessage => ({
  ...telemetry(deviceId, payload, receivedAt, id),
  transport: 'http',
});

async function firmwareOf(deviceId: string) {
  const { rows } = await h.pool.query(
    `SELECT current_title, current_version, state, error, (extract(epoch from state_at) * 1000)::float8 AS state_at
       FROM device_firmware WHERE device_id = $1`,
    [deviceId],
  );
  const r = rows[0];
  return r ? { ...r, state_at: r.state_at === null ? null : Math.round(r.state_at) } : undefined;
}

describe('fw_state tracking', () => {
  it('follows an update from MQTT and HTTP reports, newest report winning by device time', async () => {
    const dev = await h.addDevice();
    // The firmware's form: single quotes, receive time only.
    await send(telemetry(dev, "{'current_fw_title':'cabinet','current_fw_version':'1.0.0','1':'true'}", BASE));
    expect(await firmwareOf(dev)).toEqual({
      current_title: 'cabinet',
      current_version: '1.0.0',
      state: null,
      error: null,
      state_at: null,
    });
    await send(telemetry(dev, "{'fw_state':'DOWNLOADING'}", BASE + 1000));
    expect(await firmwareOf(dev)).toMatchObject({ state: 'DOWNLOADING', state_at: BASE + 1000 });
    // ThingsBoard's JSON over HTTP, with the device's own time.
    await send(
      http(dev, `{"ts":${BASE + 5000},"values":{"fw_state":"FAILED","fw_error":"checksum mismatch"}}`, BASE + 6000),
    );
    expect(await firmwareOf(dev)).toMatchObject({ state: 'FAILED', error: 'checksum mismatch', state_at: BASE + 5000 });
    // A replayed buffer received later but older by device time changes nothing.
    await send(
      http(dev, `{"ts":${BASE + 3000},"values":{"fw_state":"DOWNLOADED","current_fw_version":"0.9.0"}}`, BASE + 7000),
    );
    expect(await firmwareOf(dev)).toMatchObject({
      state: 'FAILED',
      error: 'checksum mismatch',
      current_version: '1.0.0',
      state_at: BASE + 5000,
    });
    // A new state clears the old error; the new version comes with it.
    const updated = telemetry(dev, "{'fw_state':'UPDATED','current_fw_version':'2.0.0'}", BASE + 9000);
    await send(updated);
    const after = {
      current_title: 'cabinet',
      current_version: '2.0.0',
      state: 'UPDATED',
      error: null,
      state_at: BASE + 9000,
    };
    expect(await firmwareOf(dev)).toEqual(after);
    // Redelivered: nothing changes.
    await send(updated);
    expect(await firmwareOf(dev)).toEqual(after);
  });

  it('reads client attributes too, and keeps the newest of several reports in one batch', async () => {
    const dev = await h.addDevice();
    const attrs: IngestMessage = {
      kind: 'attributes',
      id: `a-${dev}`,
      deviceId: dev,
      receivedAt: BASE + 2000,
      transport: 'mqtt',
      values: { fw_state: 'VERIFIED', current_fw_title: 'cabinet' },
    };
    // One job: an attributes message and two telemetry entries out of order.
    await h.enqueue([
      telemetry(
        dev,
        `[{"ts":${BASE + 3000},"values":{"fw_state":"UPDATING"}},{"ts":${BASE + 1000},"values":{"fw_state":"DOWNLOADING"}}]`,
        BASE + 4000,
      ),
      attrs,
    ]);
    jobs++;
    await h.drained(jobs);
    expect(await firmwareOf(dev)).toEqual({
      current_title: 'cabinet',
      current_version: null,
      state: 'UPDATING',
      error: null,
      state_at: BASE + 3000,
    });
  });

  it('two states in the same millisecond, processed in either order: the one further along wins', async () => {
    for (const order of [
      ['UPDATED', 'UPDATING'],
      ['UPDATING', 'UPDATED'],
    ]) {
      const dev = await h.addDevice();
      for (const state of order) await send(telemetry(dev, `{'fw_state':'${state}'}`, BASE + 500));
      expect(await firmwareOf(dev)).toMatchObject({ state: 'UPDATED', state_at: BASE + 500 });
    }
  });

  it('ignores and counts an fw_state that is not one of ThingsBoard states, keeping the rest of the report', async () => {
    const dev = await h.addDevice();
    await send(telemetry(dev, "{'fw_state':'DOWNLOADING'}", BASE));
    const before = firmwareReportCounts.invalidState;
    await send(telemetry(dev, "{'fw_state':'HALF_DONE','current_fw_version':'1.1.0'}", BASE + 1000));
    expect(firmwareReportCounts.invalidState).toBe(before + 1);
    expect(await firmwareOf(dev)).toMatchObject({ state: 'DOWNLOADING', current_version: '1.1.0', state_at: BASE });
  });
});
