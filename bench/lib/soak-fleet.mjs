// The soak's fleet: firmware-exact simulated devices (MQTT, and every tenth one HTTP) with
// one shared stats object, a repeating outage scenario played in real time, and a probe
// device that measures publish → PUBACK → outage visible in the API.
import { Agent } from 'node:http';
import {
  createHttpDevice,
  createMqttDevice,
  DEFAULT_LINE_LABELS,
  expandScenario,
  LeanMqttClient,
  mqttLinePayload,
  SimStats,
  TELEMETRY_TOPIC,
  validateFleet,
  validateScenario,
} from '@spms/simulator';
import { sleep } from './system.mjs';

export const deviceName = (i) => `${String(i).padStart(5, '0')}_MSAN`;

/** The seeded tokens as a fleet (seedDevices' names and regions); every tenth device is HTTP firmware. */
export function soakFleet(tokens, regions) {
  return validateFleet({
    devices: tokens.map((token, i) => ({
      name: deviceName(i),
      region: `Region ${i % regions}`,
      latitude: 6.9 + (i % 100) / 100,
      longitude: 79.9 + (i % 97) / 100,
      lines: DEFAULT_LINE_LABELS,
      transport: i % 10 === 9 ? 'http' : 'mqtt',
      credentials: { type: 'ACCESS_TOKEN', token },
    })),
  });
}

/**
 * What a grid does to a fleet, repeated every `cycleS` for the whole run: a regional CEB
 * loss, load shedding of another region, flapping lines, devices losing power and 4G links.
 */
export function soakScenario(minutes, regions) {
  const cycleS = minutes >= 10 ? 300 : 30;
  const s = (x) => `${Math.max(1, Math.round(x * cycleS))}s`;
  const events = [];
  for (let c = 0, at = 5; at < minutes * 60 - cycleS * 0.3; c++, at += cycleS) {
    const region = (k) => ({ regions: [`Region ${(c + k) % regions}`], share: 0.3 });
    events.push(
      { at: `${at}s`, action: 'lines-off', target: region(0), lines: [1, 8], for: s(0.3), stagger: s(0.05) },
      { at: `${at}s`, action: 'lines-off', target: region(1), lines: [1], for: s(0.2), stagger: s(0.1) },
      { at: `${at}s`, action: 'flap', target: { share: 0.005 }, lines: [3], off: '3s', on: '7s', count: 3 },
      { at: `${at}s`, action: 'power-off', target: { share: 0.01 }, for: s(0.15), stagger: s(0.1) },
      { at: `${at}s`, action: 'link-down', target: { share: 0.01 }, for: s(0.1), stagger: s(0.1) },
      { at: `${at}s`, action: 'voltage', target: region(2), volts: 195, for: s(0.1), stagger: s(0.05) },
    );
  }
  return { name: 'soak', duration: `${minutes * 60}s`, seed: 1, events };
}

/** Starts the fleet and plays the scenario until `signal` aborts; `stats` counts everything. */
export async function runFleet({ fleet, scenario, mqttPort, httpPort, rampPerSecond = 500, signal }) {
  const known = {
    devices: new Set(fleet.devices.map((d) => d.name)),
    regions: new Set(fleet.devices.map((d) => d.region)),
  };
  const sc = validateScenario(scenario, known);
  const stats = new SimStats();
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  const devices = new Map(
    fleet.devices.map((d, i) => {
      const common = {
        name: d.name,
        stats,
        nominalVolts: sc.nominalVolts + (((i * 7919) % 61) - 30) / 10,
        seed: i + 1,
      };
      const dev =
        d.transport === 'http'
          ? createHttpDevice({ ...common, baseUrl: `http://127.0.0.1:${httpPort}`, token: d.credentials.token, agent })
          : createMqttDevice({
              ...common,
              host: '127.0.0.1',
              port: mqttPort,
              clientId: d.name,
              username: d.credentials.token,
            });
      return [d.name, dev];
    }),
  );
  const done = (async () => {
    let i = 0;
    for (const d of devices.values()) {
      if (signal.aborted) break;
      d.start();
      if (++i % Math.max(1, Math.floor(rampPerSecond / 10)) === 0) await sleep(100);
    }
    const t0 = Date.now();
    let applied = 0;
    for (const entry of expandScenario(sc, fleet)) {
      while (!signal.aborted && Date.now() < t0 + entry.t) await sleep(Math.min(1000, t0 + entry.t - Date.now()));
      if (signal.aborted) break;
      const dev = devices.get(entry.device);
      const c = entry.change;
      if (c.kind === 'line') dev.setLine(c.line, c.powered);
      else if (c.kind === 'voltage') dev.setVoltage(c.volts);
      else if (c.kind === 'power') dev.setPower(c.on);
      else dev.setLink(c.up);
      applied++;
    }
    while (!signal.aborted) await sleep(500);
    await Promise.all([...devices.values()].map((d) => d.stop(true)));
    agent.destroy();
    return applied;
  })();
  return { stats, devices: devices.size, done };
}

/**
 * One extra device toggling line 2 every `everyMs`: each publish → PUBACK, and → the outage
 * opened/closed in GET /api/outages (polled every 50 ms, up to 10 s). Samples go to `sink`.
 */
export async function runProbe({ sys, token, name, everyMs, signal, sink }) {
  const c = new LeanMqttClient({ host: '127.0.0.1', port: sys.mqttPort, clientId: `${name}-probe`, username: token });
  await c.connect();
  for (let l = 1; l <= 8; l++) await c.publish(TELEMETRY_TOPIC, mqttLinePayload(l, true), 1);
  for (let powered = false; !signal.aborted; powered = !powered) {
    await sleep(everyMs);
    if (signal.aborted) break;
    const t0 = performance.now();
    try {
      await c.publish(TELEMETRY_TOPIC, mqttLinePayload(2, powered), 1);
      const acked = performance.now() - t0;
      let visible = null;
      while (visible === null && performance.now() - t0 < 10_000) {
        const it = (await sys.api(`/api/outages?device=${name}&line=2&limit=1`)).items[0];
        if (it && (powered ? it.endedAt !== null : it.endedAt === null)) visible = performance.now() - t0;
        else await sleep(50);
      }
      sink.push({ t: Date.now(), acked, visible });
    } catch (err) {
      sink.push({ t: Date.now(), acked: null, visible: null, error: String(err?.message ?? err) });
    }
  }
  await c.end().catch(() => {});
}
