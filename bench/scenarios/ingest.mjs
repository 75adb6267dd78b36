// Scenarios 1–3 on one system: sustained ingest end to end, line-change latency under load,
// connection scale; each next to Mosquitto measured in the same run.
import { domainEventsChannel } from '@spms/contracts';
import { LeanMqttClient, loadTestParallel, mqttLinePayload, TELEMETRY_TOPIC } from '@spms/simulator';
import { Redis } from 'ioredis';
import { committedRows as count, cpuMeter, pct, rssMiB, sleep, tokenFleet } from '../lib/system.mjs';

/** 1. QoS 1 PUBLISH → rows committed: offered load above capacity, rows counted as they commit. */
export async function sustainedIngest(sys, mosq, tokens, p) {
  const fleet = tokenFleet(tokens.slice(0, p.devices));
  const common = { devices: p.devices, rate: p.rate, durationS: p.seconds, rampPerSecond: 5000, boot: false, qos: 1 };
  const base = await count(sys.pool);
  const samples = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      samples.push([performance.now(), (await count(sys.pool)) - base]);
      await sleep(500);
    }
  })();
  const meter = cpuMeter(sys.pids);
  const t0 = performance.now();
  const ours = await loadTestParallel({
    ...common,
    mqttUrl: `mqtt://127.0.0.1:${sys.mqttPort}`,
    fleet,
    workers: 1,
    maxInflight: p.devices * p.inflight,
  });
  const cpu = meter();
  const loadEnd = performance.now();
  // Drain: wait until every acknowledged message is a row, or nothing moves for 5 s (max 60 s).
  const acked = ours.stats.acked;
  for (let still = 0, last = -1; performance.now() - loadEnd < 60_000; ) {
    const n = samples.at(-1)?.[1] ?? 0;
    if (n >= acked) break;
    still = n === last ? still + 1 : 0;
    last = n;
    if (still >= 20) break;
    await sleep(500);
  }
  polling = false;
  await poller;
  const rows = samples.at(-1)[1];
  const first = samples.find(([, n]) => n > 0)?.[0] ?? t0;
  const done = samples.find(([, n]) => n >= rows)?.[0] ?? performance.now();
  // Steady window: rows committed while the load ran (ramp excluded), per second.
  const inLoad = samples.filter(([t]) => t >= t0 + ours.rampSeconds * 1000 && t <= loadEnd);
  const steady =
    inLoad.length > 1 ? (inLoad.at(-1)[1] - inLoad[0][1]) / ((inLoad.at(-1)[0] - inLoad[0][0]) / 1000) : null;
  const mosqMeter = mosq.pid ? cpuMeter({ mosquitto: mosq.pid }) : null;
  const theirs = await loadTestParallel({
    ...common,
    mqttUrl: `mqtt://127.0.0.1:${mosq.port}`,
    workers: 1,
    maxInflight: p.devices * p.inflight,
  });
  return {
    conditions: `${p.devices} devices, QoS 1, ${p.inflight} in flight per device max, offered ${p.rate} msg/s for ${p.seconds} s, 2 % line changes`,
    spms: {
      published: ours.stats.published,
      acked,
      pubackRate: Math.round(acked / ours.durationS),
      rowsCommitted: rows,
      endToEndRate: Math.round(rows / ((done - first) / 1000)),
      steadyCommitRate: steady && Math.round(steady),
      drainAfterLoadS: Math.round((done - loadEnd) / 100) / 10,
      puback: ours.stats.pubackLatencyMs,
      cpuPct: cpu,
    },
    mosquitto: {
      acked: theirs.stats.acked,
      pubackRate: Math.round(theirs.stats.acked / theirs.durationS),
      puback: theirs.stats.pubackLatencyMs,
      cpuPct: mosqMeter?.(),
    },
  };
}

/** 2. PUBLISH of a line change → outage committed (event after COMMIT) → visible in GET /api/outages. */
export async function lineChangeLatency(sys, _mosq, tokens, p) {
  const probes = tokens.slice(tokens.length - p.probes);
  const bgTokens = tokens.slice(0, p.bgDevices);
  const ids = new Map();
  for (const r of (
    await sys.pool.query(`SELECT d.id::text, d.name FROM devices d WHERE d.name = ANY($1)`, [
      probes.map((_, i) => `${String(tokens.length - p.probes + i).padStart(5, '0')}_MSAN`),
    ])
  ).rows)
    ids.set(r.name, r.id);
  const sub = new Redis(sys.redisUrl);
  await sub.subscribe(domainEventsChannel(sys.prefix));
  const waiters = new Map();
  sub.on('message', (_c, raw) => {
    const e = JSON.parse(raw);
    const o = e.payload?.outage;
    if (!o) return;
    const w = waiters.get(`${e.deviceId}/${o.line}/${e.type}`);
    if (w) w();
  });
  const ac = new AbortController();
  const bg = loadTestParallel({
    mqttUrl: `mqtt://127.0.0.1:${sys.mqttPort}`,
    devices: p.bgDevices,
    rate: p.bgRate,
    durationS: p.seconds + 5,
    rampPerSecond: 5000,
    boot: false,
    fleet: tokenFleet(bgTokens),
    workers: 1,
    signal: ac.signal,
  });
  await sleep(2000); // background load running
  const commit = [];
  const visible = [];
  const read = [];
  const firstRead = [];
  let extraGets = 0;
  const warmReads = [];
  const end = Date.now() + p.seconds * 1000;
  const meter = cpuMeter(sys.pids);
  await Promise.all(
    probes.map(async (token, k) => {
      const name = `${String(tokens.length - p.probes + k).padStart(5, '0')}_MSAN`;
      const deviceId = ids.get(name);
      const c = new LeanMqttClient({ host: '127.0.0.1', port: sys.mqttPort, clientId: `probe-${k}`, username: token });
      await c.connect();
      for (let l = 1; l <= 8; l++) await c.publish(TELEMETRY_TOPIC, mqttLinePayload(l, true), 1);
      // Warm the read path as well as the MQTT one: until now the API process has answered
      // nothing but /healthz, and its first GETs /api/outages (code compiled on first use, pool
      // connections, this client's first HTTP connection) are start-up, not line-change
      // latency: the first 30–100 ms under this load, the next four mostly 6–30 ms, then ~5 ms.
      // Reported apart (firstReadMs, warmReadsMs), not in the percentiles.
      for (let w = 0; w < 5; w++) {
        const r0 = performance.now();
        await sys.api(`/api/outages?device=${deviceId}&line=1&limit=1`);
        (w === 0 ? firstRead : warmReads).push(performance.now() - r0);
      }
      // Start out of step, as the probes go on (200–300 ms apart): otherwise all of them change
      // a line in the same millisecond once (committed together, read at once), never again.
      await sleep(500 + Math.random() * 250);
      for (let i = 0; Date.now() < end; i++) {
        const line = 2 + (i % 6);
        for (const powered of [false, true]) {
          const type = powered ? 'outage.closed' : 'outage.opened';
          const key = `${deviceId}/${line}/${type}`;
          const seen = new Promise((r) => waiters.set(key, r));
          const t0 = performance.now();
          await c.publish(TELEMETRY_TOPIC, mqttLinePayload(line, powered), 1);
          const ok = await Promise.race([seen.then(() => true), sleep(5000).then(() => false)]);
          waiters.delete(key);
          if (!ok) continue;
          const tc = performance.now();
          commit.push(tc - t0);
          const q = `/api/outages?device=${deviceId}&line=${line}&limit=1`;
          for (let tries = 0; tries < 50; tries++) {
            const it = (await sys.api(q)).items[0];
            if (it && (powered ? it.endedAt !== null : it.endedAt === null)) {
              visible.push(performance.now() - t0);
              read.push(performance.now() - tc);
              break;
            }
            extraGets++;
          }
          // Space the probes like a device would (not back to back): 200–300 ms.
          await sleep(200 + Math.random() * 100);
        }
      }
      await c.end();
    }),
  );
  const cpu = meter();
  ac.abort();
  const bgResult = await bg.catch(() => null);
  sub.disconnect();
  const stat = (a) => {
    a.sort((x, y) => x - y);
    const r = (x) => (x === null ? null : Math.round(x * 10) / 10);
    return { n: a.length, p50: r(pct(a, 0.5)), p95: r(pct(a, 0.95)), p99: r(pct(a, 0.99)), max: r(a.at(-1) ?? null) };
  };
  return {
    conditions: `${p.probes} probe devices toggling lines every ~250 ms for ${p.seconds} s, background ${p.bgDevices} devices at ${p.bgRate} msg/s (QoS 1)`,
    commit: stat(commit),
    visibleViaApi: stat(visible),
    // The API's own part: from the event's arrival here to the GET that showed the change.
    readAfterEvent: stat(read),
    getsBeyondFirst: extraGets,
    firstReadMs: firstRead.map((x) => Math.round(x * 10) / 10),
    warmReadsMs: warmReads.map((x) => Math.round(x * 10) / 10),
    backgroundAchieved: bgResult?.rateAchieved ?? null,
    cpuPct: cpu,
  };
}

/** 3. Idle authenticated connections held; RSS growth per connection; same for Mosquitto. */
export async function connectionScale(sys, mosq, tokens, p) {
  const hold = async (port, pid, fleet) => {
    const rss0 = rssMiB(pid);
    let peak = rss0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, rssMiB(pid));
        await sleep(250);
      }
    })();
    const t0 = performance.now();
    const r = await loadTestParallel({
      mqttUrl: `mqtt://127.0.0.1:${port}`,
      devices: p.connections,
      rate: 0,
      durationS: p.holdSeconds,
      rampPerSecond: p.ramp,
      boot: false,
      keepalive: 120,
      connectTimeoutMs: 30_000,
      workers: p.workers,
      // Both brokers' runs in a row leave ~20k client ports in TIME_WAIT: spread over 4 addresses.
      sourceAddresses: 4,
      ...(fleet ? { fleet } : {}),
    });
    sampling = false;
    await sampler;
    const held = r.connectedPeak;
    return {
      attempted: p.connections,
      held,
      refused: r.stats.refused,
      errors: r.stats.errors,
      errorKinds: r.stats.errorKinds,
      rampS: r.rampSeconds,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
      rssBeforeMiB: Math.round(rss0),
      rssPeakMiB: Math.round(peak),
      perConnectionKiB: held ? Math.round(((peak - rss0) * 1024 * 10) / held) / 10 : null,
      connack: r.stats.connackLatencyMs,
    };
  };
  const spms = await hold(sys.mqttPort, sys.pids.broker, tokenFleet(tokens.slice(0, p.connections)));
  await sleep(2000);
  const mosquitto = mosq.pid ? await hold(mosq.port, mosq.pid, null) : null;
  return {
    conditions: `${p.connections} MQTT sessions (authenticated for SPMS), ramp ${p.ramp}/s, ${p.workers} client processes, held ${p.holdSeconds} s; open-files limit ${p.fdLimit} per process (broker and Mosquitto alike)`,
    spms,
    mosquitto,
  };
}
