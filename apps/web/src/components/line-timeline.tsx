/**
 * Outage timeline per line over a chosen window. Offline periods of the device are drawn as
 * *unknown* (hatched) on every line: while it is offline we do not know the lines' state.
 */
import { useEffect, useState } from 'preact/hooks';
import { connectivity, NotAvailable, outages } from '../api/client.js';
import { type LineStatus, toMs } from '../api/normalize.js';
import { fmtDuration, fmtTime } from '../format.js';

const H = 3600_000;
const WINDOWS: [string, number][] = [
  ['24 h', 24 * H],
  ['7 d', 7 * 24 * H],
  ['30 d', 30 * 24 * H],
];

interface Span {
  from: number;
  to: number;
  kind: 'down' | 'unknown' | 'nodata';
  title: string;
}

export function LineTimeline(p: { deviceId: string; lines: LineStatus[]; refreshKey: number }) {
  const [span, setSpan] = useState(24 * H);
  const [data, setData] = useState<{ byLine: Map<number, Span[]>; offline: Span[]; msg: string | null } | null>(null);
  const [now, setNow] = useState(Date.now());

  useEffect(() => {
    let stale = false;
    const to = Date.now();
    const from = to - span;
    setNow(to);
    const q = {
      device: p.deviceId,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      limit: 1000,
    };
    Promise.allSettled([outages(q), connectivity(p.deviceId, { from, to })]).then(([o, c]) => {
      if (stale) return;
      const byLine = new Map<number, Span[]>();
      if (o.status === 'fulfilled')
        for (const r of o.value.items) {
          const line = r.line;
          const s = toMs(r.startedAt);
          if (!line || s == null) continue;
          const e = toMs(r.endedAt) ?? to;
          const list = byLine.get(line) ?? [];
          list.push({
            from: s,
            to: e,
            kind: 'down',
            title: `No power ${fmtTime(s)} → ${r.endedAt ? fmtTime(e) : 'now'} (${fmtDuration(e - s)}) ${r.class}`,
          });
          byLine.set(line, list);
        }
      const offline: Span[] = [];
      if (c.status === 'fulfilled')
        for (const r of c.value) {
          const kind = r.state;
          if (!/offline|unknown|inactive|lost/i.test(kind)) continue;
          const noData = /unknown/i.test(kind);
          const s = toMs(r.from);
          if (s == null) continue;
          const e = toMs(r.to) ?? to;
          offline.push({
            from: s,
            to: e,
            kind: noData ? 'nodata' : 'unknown',
            title: `${noData ? 'No data (before the device was registered)' : 'Device offline: line state unknown'} ${fmtTime(s)} → ${fmtTime(e)}`,
          });
        }
      const missing = [o, c].filter((x) => x.status === 'rejected' && x.reason instanceof NotAvailable).length;
      setData({
        byLine,
        offline,
        msg:
          o.status === 'rejected'
            ? `Outage history not available: ${(o.reason as Error).message}`
            : missing
              ? 'Connectivity timeline not available from this API yet (offline periods not shown).'
              : null,
      });
    });
    return () => {
      stale = true;
    };
  }, [p.deviceId, span, p.refreshKey]);

  const from = now - span;
  // A segment that just began still shows: at least 3 px wide, never pushed out of the bar.
  const pct = (t: number) =>
    `min(${(Math.max(0, Math.min(1, (t - from) / span)) * 100).toFixed(3)}%, calc(100% - 3px))`;
  const width = (s: Span) =>
    `${((Math.max(0, Math.min(now, s.to) - Math.max(from, s.from)) / span) * 100).toFixed(3)}%`;
  const lines = p.lines.length
    ? p.lines
    : Array.from({ length: 8 }, (_, i) => ({ number: i + 1, label: `Line ${i + 1}` }) as LineStatus);

  return (
    <section class="card" aria-label="Outage timeline">
      <div class="toolbar">
        <h2>Outage timeline</h2>
        {WINDOWS.map(([text, ms]) => (
          <button
            key={text}
            type="button"
            class={`ghost small ${span === ms ? 'active' : ''}`}
            onClick={() => setSpan(ms)}
          >
            {text}
          </button>
        ))}
        <span class="muted small">
          <span class="sw down" /> no power · <span class="sw unknown" /> unknown (device offline) ·{' '}
          <span class="sw nodata" /> no data · <span class="sw ok" /> power
        </span>
      </div>
      {data?.msg && <p class="notice">{data.msg}</p>}
      <div class="timeline" data-testid="line-timeline">
        {lines.map((l) => (
          <div key={l.number} class="tl-row">
            <span class="tl-label">
              {l.number} {l.label}
            </span>
            <div
              class="tl-bar"
              role="img"
              aria-label={`Line ${l.number} ${l.label}: ${(data?.byLine.get(l.number) ?? []).length} outages in window`}
            >
              {(data?.offline ?? []).map((s) => (
                <span
                  key={`u${s.from}`}
                  class={`tl-seg ${s.kind}`}
                  style={{ left: pct(s.from), width: width(s) }}
                  title={s.title}
                />
              ))}
              {(data?.byLine.get(l.number) ?? []).map((s) => (
                <span
                  key={`d${s.from}`}
                  class="tl-seg down"
                  style={{ left: pct(s.from), width: width(s) }}
                  title={s.title}
                />
              ))}
            </div>
          </div>
        ))}
        <div class="tl-axis small muted">
          <span>{fmtTime(from)}</span>
          <span>{fmtTime(now)}</span>
        </div>
      </div>
    </section>
  );
}
