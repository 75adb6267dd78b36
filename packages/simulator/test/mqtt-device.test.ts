import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMqttDevice, type MqttDeviceOptions, SimStats } from '../src/index.js';
import { sleep, startBroker, type TestBroker, waitFor } from './test-support/helpers.js';

const BOOT = [
  "{'1':'true'}",
  "{'2':'true'}",
  "{'3':'true'}",
  "{'4':'true'}",
  "{'5':'true'}",
  "{'6':'true'}",
  "{'7':'true'}",
  "{'8':'true'}",
];
const VOLTS = /^\{'V':\d+\.\d\}$/;

let b: TestBroker;
const devices: Array<{ stop(g?: boolean): Promise<void> }> = [];
beforeEach(async () => {
  b = await startBroker();
});
afterEach(async () => {
  await Promise.all(devices.splice(0).map((d) => d.stop(false)));
  await b.close();
});

function device(extra: Partial<MqttDeviceOptions> = {}) {
  const stats = new SimStats();
  const d = createMqttDevice({
    name: '0000_MSAN',
    host: '127.0.0.1',
    port: b.port,
    clientId: '0000_MSAN-abc',
    username: 'user-0',
    password: 'pw-0',
    bootSpacingMs: 5,
    voltageIntervalMs: 400,
    rebootMs: 50,
    stats,
    ...extra,
  });
  devices.push(d);
  return { d, stats };
}
const payloads = () => b.received.map((r) => r.payload);

describe('MQTT firmware device', () => {
  it('connects with its credentials, sends the boot sequence in order, then voltage, then only changes', async () => {
    const { d } = device();
    d.start();
    await waitFor(() => b.received.length >= 10, 5000, 'boot + 2 voltage');
    expect(b.connects[0]).toEqual({ clientId: '0000_MSAN-abc', username: 'user-0', password: 'pw-0' });
    expect(payloads().slice(0, 8)).toEqual(BOOT);
    expect(payloads()[8]).toMatch(VOLTS);
    expect(b.received.every((r) => r.qos === 1)).toBe(true);
    const n = b.received.length;
    d.setLine(3, false);
    d.setLine(3, false); // no change, no message
    d.setLine(5, true); // already true
    await waitFor(() => payloads().includes("{'3':'false'}"));
    await sleep(50);
    expect(
      payloads()
        .slice(n)
        .filter((p) => !VOLTS.test(p)),
    ).toEqual(["{'3':'false'}"]);
  });

  it('after a refused CONNECT or a dropped session reconnects with the same client id and re-sends the boot sequence', async () => {
    b.refuseNext(2);
    const { d, stats } = device({ voltageIntervalMs: 60_000, qos: 0 });
    d.start();
    await waitFor(() => b.received.length >= 8, 5000, 'boot after refusals');
    expect(stats.refused).toBe(2);
    expect(b.connects.map((c) => c.clientId)).toEqual(['0000_MSAN-abc', '0000_MSAN-abc', '0000_MSAN-abc']);
    expect(b.received.every((r) => r.qos === 0)).toBe(true);
    d.setLine(2, false);
    await waitFor(() => payloads().includes("{'2':'false'}") && payloads().some((p) => VOLTS.test(p)));
    const n = b.received.length;
    b.clients.get('0000_MSAN-abc')?.close(); // server drops the session
    const after = () =>
      payloads()
        .slice(n)
        .filter((p) => !VOLTS.test(p));
    await waitFor(() => after().length >= 8, 5000, 'second boot sequence');
    expect(b.connects).toHaveLength(4);
    expect(b.connects[3]?.clientId).toBe('0000_MSAN-abc');
    expect(after(), JSON.stringify({ n, all: payloads(), connects: b.connects.length })).toEqual(
      BOOT.map((p) => (p === "{'2':'true'}" ? "{'2':'false'}" : p)),
    );
  });

  it('on power loss goes mute without DISCONNECT or FIN, and reboots into a new session on power return', async () => {
    const { d } = device({ voltageIntervalMs: 60_000 });
    d.start();
    await waitFor(() => b.received.length >= 9);
    const serverSide = b.clients.get('0000_MSAN-abc');
    d.setPower(false);
    d.setLine(1, false); // happens while the device is dead: unseen
    await sleep(150);
    expect(serverSide?.closed).toBe(false); // the broker only learns from keep-alive expiry or takeover
    expect(b.received).toHaveLength(9);
    d.setPower(true);
    await waitFor(() => b.received.length >= 17, 5000, 'boot after power return');
    expect(payloads().slice(9, 17)).toEqual(["{'1':'false'}", ...BOOT.slice(1)]);
    await waitFor(() => serverSide?.closed === true, 2000, 'old session closed by takeover');
  });

  it('loses changes while the 4G link is down and reports the current state in the boot sequence after it', async () => {
    const { d, stats } = device({ voltageIntervalMs: 60_000 });
    d.start();
    await waitFor(() => b.received.length >= 9);
    d.setLink(false);
    d.setLine(4, false);
    d.setLine(6, false);
    d.setLine(6, true);
    await sleep(200);
    expect(b.received).toHaveLength(9);
    expect(stats.connectAttempts).toBeGreaterThan(1); // kept rebooting while there was no link
    d.setLink(true);
    await waitFor(() => b.received.length >= 17, 5000, 'boot after link return');
    expect(payloads().slice(9, 17)).toEqual(BOOT.map((p) => (p === "{'4':'true'}" ? "{'4':'false'}" : p)));
  });

  it('as a ThingsBoard-style buffered device, replays what happened offline with ts', async () => {
    const { d } = device({ behaviour: 'buffered', voltageIntervalMs: 60_000 });
    d.start();
    await waitFor(() => b.received.length >= 1);
    const first = JSON.parse(b.received[0]!.payload);
    expect(first).toHaveLength(1);
    expect(first[0].values).toMatchObject({ 1: true, 8: true });
    d.setLink(false);
    const t0 = Date.now();
    d.setLine(2, false);
    await sleep(20);
    d.setLine(2, true);
    d.setLink(true);
    await waitFor(() => b.received.length >= 2, 5000, 'replay');
    const replay = JSON.parse(b.received[1]!.payload) as Array<{ ts: number; values: Record<string, unknown> }>;
    expect(replay.map((r) => r.values)).toEqual([
      { 2: false },
      { 2: true },
      expect.objectContaining({ 2: true, V: expect.any(Number) }),
    ]);
    expect(replay[0]!.ts).toBeGreaterThanOrEqual(t0);
    expect(replay[1]!.ts).toBeGreaterThan(replay[0]!.ts);
  });
});
