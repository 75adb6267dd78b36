// Compares the simulator's ground truth (outages per device and line, receive-time epoch ms)
// with the outages SPMS recorded (GET /api/outages items). Pure; used by the demo and bench.

const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : null);

/**
 * @param truth GroundTruth ({ outages: [{ device, line, start, end, startObservable, endObservable }] })
 * @param recorded API items ({ device: { name }, line, startedAt, endedAt })
 * @param opts.toleranceMs (deviceName) => ms allowed between the truth's and the recorded edge
 */
export function matchOutages(truth, recorded, opts) {
  // Edges the server cannot see (the device was offline) are not expected.
  const expected = truth.outages.filter((o) => o.startObservable);
  const pool = recorded.map((r) => ({
    r,
    device: r.device.name,
    line: r.line,
    start: Date.parse(r.startedAt),
    end: r.endedAt ? Date.parse(r.endedAt) : null,
    used: false,
  }));
  const missed = [];
  const startErrs = [];
  let matched = 0;
  for (const t of expected) {
    const tol = opts.toleranceMs(t.device);
    const cand = pool.find(
      (p) => !p.used && p.device === t.device && p.line === t.line && Math.abs(p.start - t.start) <= tol,
    );
    const endOk =
      cand &&
      (!t.endObservable ||
        (t.end === null ? cand.end === null : cand.end !== null && Math.abs(cand.end - t.end) <= tol));
    if (cand && endOk) {
      cand.used = true;
      matched++;
      startErrs.push(Math.abs(cand.start - t.start));
    } else missed.push(t);
  }
  startErrs.sort((a, b) => a - b);
  return {
    expected: expected.length,
    matched,
    missed,
    extra: pool.filter((p) => !p.used).map((p) => p.r),
    startErr: { p50: pct(startErrs, 0.5), max: startErrs.at(-1) ?? null },
  };
}
