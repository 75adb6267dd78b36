// Markdown section for the multi-process scenarios (cluster, storm20k, scaling): one table of
// figures beside their same-run baseline and goal, then conditions with the load average.

const n = (x, d = 0) =>
  x === null || x === undefined || Number.isNaN(x)
    ? '—'
    : Number(x).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const ok = (met) => (met === null || met === undefined ? '—' : met ? '✅ met' : '❌ missed');
const kinds = (o) =>
  Object.entries(o ?? {})
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'none';

// busy core-seconds ÷ cores: the least wall time the same work could take on this machine
const cpuText = (c) =>
  c
    ? `CPU ${n(c.busyCoreS, 1)} core-s busy machine-wide in ${n(c.wallS, 1)} s (floor on these cores ${n(c.floorS, 1)} s), by process ${Object.entries(
        c.byProcess,
      )
        .map(([k, v]) => `${k} ${n(v, 1)}`)
        .join(', ')}`
    : 'CPU not measured';

export function writeMultiReport(r) {
  const s = r.scenarios;
  if (!s.cluster && !s.storm20k && !s.scaling) return '';
  const rows = [];
  const conds = [];
  if (s.cluster) {
    const c = s.cluster;
    const m = c.mosquitto;
    rows.push([
      `7. Connections across ${c.processes} broker processes`,
      `${n(c.spms.held)} of ${n(c.spms.attempted)} held, ${n(c.spms.perConnectionKiB, 1)} KiB RSS growth each (${n(c.spms.totalKiBPerConnection, 1)} KiB with the processes' own footprint)` +
        (c.spms.perConnectionSettledKiB != null
          ? `, ${n(c.spms.perConnectionSettledKiB, 1)} KiB after ${c.spms.settleS} s idle`
          : '') +
        `; CONNACK p50 ${n(c.spms.connackMs.p50)} ms, p99 ${n(c.spms.connackMs.p99)} ms`,
      m
        ? `Mosquitto (1 process, no auth): ${n(m.held)} of ${n(m.attempted)}, ${n(m.perConnectionKiB, 1)} KiB each; CONNACK p50 ${n(m.connackMs.p50)} ms, p99 ${n(m.connackMs.p99)} ms`
        : '—',
      '≥ 50,000, ≤ 4 KiB each, p99 ≤ 1 s at 1,500/s',
      ok(c.goal.met),
    ]);
    const a = c.spmsAgain;
    if (a)
      rows.push([
        `7b. The same fleet again, ${n(a.afterS)} s after it left (closed cleanly), to the running processes: credentials cached`,
        `${n(a.held)} of ${n(a.attempted)} held; CONNACK p50 ${n(a.connackMs.p50)} ms, p99 ${n(a.connackMs.p99)} ms`,
        '—',
        'all back, p99 ≤ 1 s at 1,500/s',
        ok(c.goalAgain?.met),
      ]);
    const cpu = c.spms.cpuMsPerConnection;
    conds.push(
      `**7. Connections across processes** — ${c.conditions}. SPMS: failures ${kinds(c.spms.failures)}; ramp ${n(c.spms.rampS, 1)} s, last CONNACK ${n(c.spms.allAnsweredS, 1)} s after the start; ` +
        (cpu
          ? `CPU per held connection ${n(cpu.brokers, 2)} ms in the brokers, ${n(cpu.supervisor, 2)} ms in the supervisor; `
          : '') +
        `to the last CONNACK: ${cpuText(c.spms.cpuBudget)}; ` +
        (c.spms.connackBySecond
          ? `CONNACK p99 by when the connect began: ${c.spms.connackBySecond.map((x) => `${x.from}–${x.from + 5} s ${n(x.p99)} ms`).join(', ')}; `
          : '') +
        `RSS ${n(c.spms.rssBeforeMiB)} → ${n(c.spms.rssAfterMiB)} MiB in all; per process: ${c.spms.perProcess
          .map(
            (x, i) =>
              `#${i + 1} ${n(x.held)} held, ${n(x.rssBeforeMiB)} → ${n(x.rssAfterMiB)} MiB, ${n(x.perConnectionKiB, 1)} KiB/conn` +
              (x.rssSettledMiB != null
                ? ` (${n(x.rssSettledMiB)} MiB, ${n(x.perConnectionSettledKiB, 1)} KiB/conn after ${c.spms.settleS} s idle)`
                : '') +
              (x.growthKiBPerConnection
                ? ` [per connection: V8 heap used ${n(x.growthKiBPerConnection.heapUsed, 1)}, reserved ${n(x.growthKiBPerConnection.heapTotal, 1)}, external ${n(x.growthKiBPerConnection.external, 1)}, rest (native) ${n(x.growthKiBPerConnection.native, 1)} KiB; ${n(x.growthKiBPerConnection.stormCollections)} post-storm GC, ${n(x.growthKiBPerConnection.stormCollectionMs)} ms]`
                : ''),
          )
          .join(
            '; ',
          )}${c.spms.heldSpread ? ` (busiest ÷ least busy ×${n(c.spms.heldSpread, 2)})` : ''}; load average after ${c.spms.loadAverageAfter.join(' ')}. ` +
        (a
          ? `**7b.** Failures ${kinds(a.failures)}; ramp ${n(a.rampS, 1)} s, last CONNACK ${n(a.allAnsweredS, 1)} s after the start; ${cpuText(a.cpuBudget)}; ` +
            (a.connackBySecond
              ? `CONNACK p99 by when the connect began: ${a.connackBySecond.map((x) => `${x.from}–${x.from + 5} s ${n(x.p99)} ms`).join(', ')}. `
              : '')
          : '') +
        (m
          ? `Mosquitto: failures ${kinds(m.failures)}, ${cpuText(m.cpuBudget)}, RSS ${n(m.rssBeforeMiB)} → ${n(m.rssAfterMiB)} MiB, load average after ${m.loadAverageAfter.join(' ')}.`
          : ''),
    );
  }
  if (s.storm20k) {
    const st = s.storm20k;
    const line = (x) =>
      x
        ? `${n(x.connected)}/${n(x.devices)} back in ${n(x.allConnectedS, 1)} s, recorded ${n(x.allRecordedS ?? x.allBootBurstsAckedS, 1)} s; CONNACK p50 ${n(x.connackMs.p50)} ms, p99 ${n(x.connackMs.p99)} ms; ${n(x.refused)} refused`
        : '—';
    const variants = [
      ['warm', 'processes restarted after the blackout'],
      ['warmRunning', 'processes kept running through it'],
    ];
    for (const size of Object.keys(st.warm).sort((a, b) => a - b))
      for (const [key, how] of variants) {
        const w = st[key]?.[size];
        if (!w) continue;
        rows.push([
          `8. Grid-restore storm across processes, ${n(Number(size))} devices, supplied passwords, warm shared cache, ${how}`,
          line(w),
          `Mosquitto (no auth): ${line(st.mosquitto[size])}`,
          w.goal.text,
          ok(w.goal.met),
        ]);
      }
    if (st.cold)
      rows.push([
        `8c. Same, cold (nothing verified yet), ${n(st.cold.devices)} devices, limit ${st.cold.timeLimitS} s`,
        line(st.cold),
        '—',
        'reported',
        '—',
      ]);
    conds.push(
      `**8. Grid-restore storm across processes** — ${st.conditions}. Seeding ${n(st.seedS, 1)} s. ` +
        variants
          .flatMap(([key]) => Object.entries(st[key] ?? {}).map(([size, w]) => [size, w, key]))
          .map(
            ([size, w, key]) =>
              `Warm ${size}${key === 'warmRunning' ? `, processes kept running (${w.offlineAtStart ?? '?'} devices offline at its start)` : ', processes restarted'}: auth ${JSON.stringify(w.auth)}, errors ${w.errors} ${JSON.stringify(w.errorKinds)}, refusals ${JSON.stringify(w.refusalsByCode)}, load average ${w.loadAverage.before.join(' ')} → ${w.loadAverage.after.join(' ')}; ${cpuText(w.cpu)}.`,
          )
          .join(' ') +
        (st.cold
          ? ` Cold: auth ${JSON.stringify(st.cold.auth)}, refusals ${JSON.stringify(st.cold.refusalsByCode)}, errors ${st.cold.errors} ${JSON.stringify(st.cold.errorKinds)}, load average ${st.cold.loadAverage.before.join(' ')} → ${st.cold.loadAverage.after.join(' ')}; ${cpuText(st.cold.cpu)}; ` +
            `devices it did not bring back, connected before the blackout: ${n(st.fleetCompletedBeforeBlackout?.connected)} of ${n(st.fleetCompletedBeforeBlackout?.devices)} in ${n(st.fleetCompletedBeforeBlackout?.seconds, 1)} s.`
          : ''),
    );
  }
  if (s.scaling) {
    const sc = s.scaling;
    for (const pt of sc.points)
      rows.push([
        `9. Scaling, ${pt.brokers} broker process${pt.brokers > 1 ? 'es' : ''}`,
        `ingest ${n(pt.ingest?.endToEndRate)} msg/s (×${n(pt.ingestRatio, 2)}); connect ${n(pt.connect?.connectsPerSecond)}/s (×${n(pt.connectRatio, 2)}), CONNACK p99 ${n(pt.connect?.connackMs.p99)} ms`,
        pt.brokers === 1
          ? '(the 1-process figure)'
          : `1 process: ${n(sc.points[0].ingest?.endToEndRate)} msg/s, ${n(sc.points[0].connect?.connectsPerSecond)}/s`,
        '20,000 msg/s',
        ok(pt.ingest?.endToEndRate >= 20_000),
      ]);
    conds.push(
      `**9. Scaling** — ${sc.conditions}. ` +
        sc.points
          .map(
            (pt) =>
              `${pt.brokers} process${pt.brokers > 1 ? 'es' : ''}: load average ${pt.loadAverageBefore.join(' ')} before, ${pt.loadAverageAfter?.join(' ') ?? '—'} after; ` +
              `PUBACK ${n(pt.ingest?.pubackRate)} msg/s (p99 ${n(pt.ingest?.pubackMs?.p99)} ms), ${n(pt.ingest?.rowsCommitted)} rows; ` +
              `connect ${n(pt.connect?.held)} of ${n(pt.connect?.attempted)} held, failures ${kinds(pt.connect?.failures)}, last CONNACK ${n(pt.connect?.allAnsweredS, 1)} s.`,
          )
          .join(' '),
    );
  }
  return [
    '## Multi-process scenarios',
    '',
    '| scenario | SPMS | baseline (same run) | goal | |',
    '|---|---|---|---|---|',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    ...conds.flatMap((c) => [c, '']),
  ].join('\n');
}
