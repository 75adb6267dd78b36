/**
 * Voltage (uPlot: ~50 KB, draws 100k points on canvas without breaking a sweat). 12 h by
 * default; longer ranges ask the API for buckets and draw the min–max band around the mean.
 * Drag across the chart to zoom in (the finer range is re-fetched at a finer bucket).
 */
import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { NotAvailable, voltage } from '../api/client.js';
import { toMs } from '../api/normalize.js';
import type { Answer } from '../api/types.js';
import { fmtTime, fromZoneInput, timeZone, toZoneInput } from '../format.js';

const H = 3600_000;
const PRESETS: [string, number][] = [
  ['12 h', 12 * H],
  ['24 h', 24 * H],
  ['7 d', 7 * 24 * H],
  ['30 d', 30 * 24 * H],
  ['1 y', 365 * 24 * H],
];
// docs/domain-rules.md: ±6 % of 230 V by default; the device's own limits win when the API gives them.
const LIMITS = { min: 216.2, max: 243.8 };

export const bucketFor = (span: number) =>
  span <= 12 * H ? 'raw' : span <= 3 * 24 * H ? '1m' : span <= 60 * 24 * H ? '1h' : '1d';

type Series = [number[], (number | null)[], (number | null)[], (number | null)[]];

function toSeries(items: Answer<'/api/devices/{idOrName}/voltage'>['points']): Series {
  const t: number[] = [];
  const avg: (number | null)[] = [];
  const min: (number | null)[] = [];
  const max: (number | null)[] = [];
  for (const p of items) {
    const at = toMs(p.t);
    if (at == null) continue;
    t.push(at / 1000);
    avg.push(p.avg);
    min.push(p.min);
    max.push(p.max);
  }
  return [t, avg, min, max];
}

export function VoltageChart({ deviceId, limits }: { deviceId: string; limits?: { min: number; max: number } | null }) {
  const lim = limits ?? LIMITS;
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [range, setRange] = useState(() => ({ from: Date.now() - 12 * H, to: Date.now() }));
  const [state, setState] = useState<{ msg: string | null; points: number; bucket: string }>({
    msg: null,
    points: 0,
    bucket: 'raw',
  });

  useEffect(() => {
    let stale = false;
    const bucket = bucketFor(range.to - range.from);
    voltage(deviceId, { ...range, bucket }).then(
      (items) => {
        if (stale || !el.current) return;
        const data = toSeries(items);
        draw(data, bucket !== 'raw');
        setState({ msg: data[0].length ? null : 'No voltage readings in this range.', points: data[0].length, bucket });
      },
      (err: Error) =>
        !stale &&
        setState({
          msg: err instanceof NotAvailable ? 'Voltage history is not available from this API yet.' : err.message,
          points: 0,
          bucket,
        }),
    );
    return () => {
      stale = true;
    };
  }, [deviceId, range.from, range.to]);

  // A window that ends "now" slides with time (the devices report every 30 s).
  useEffect(() => {
    const t = setInterval(() => {
      setRange((r) => (Date.now() - r.to < 120_000 ? { from: r.from + (Date.now() - r.to), to: Date.now() } : r));
    }, 60_000);
    return () => clearInterval(t);
  }, []);

  useEffect(() => {
    // Phones rotate and wall screens resize: keep the chart as wide as its card.
    const ro = new ResizeObserver(() => {
      if (el.current && plot.current) plot.current.setSize({ width: el.current.clientWidth, height: 260 });
    });
    if (el.current) ro.observe(el.current);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
    };
  }, []);

  function draw(data: Series, banded: boolean) {
    plot.current?.destroy();
    if (!el.current) return;
    const width = el.current.clientWidth || 600;
    const opts: uPlot.Options = {
      width,
      height: 260,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), timeZone()),
      // The chosen range, not the data's extent: one sample must not stretch the axis to years.
      scales: {
        x: { time: true, range: () => [range.from / 1000, range.to / 1000] },
        y: {
          range: (_u, lo, hi) => [Math.min(lo ?? lim.min, lim.min - 5), Math.max(hi ?? lim.max, lim.max + 5)],
        },
      },
      series: [
        {},
        {
          label: banded ? 'Mean V' : 'Voltage',
          stroke: '#1565c0',
          width: 1.5,
          value: (_u, v) => (v == null ? '—' : `${v.toFixed(1)} V`),
        },
        { label: 'Min', stroke: banded ? '#90caf9' : 'transparent', show: banded },
        { label: 'Max', stroke: banded ? '#90caf9' : 'transparent', show: banded },
      ],
      bands: banded ? [{ series: [3, 2], fill: 'rgba(21,101,192,0.15)' }] : [],
      axes: [{}, { label: 'V', values: (_u, vals) => vals.map((v) => `${v}`) }],
      cursor: { drag: { x: true, y: false, setScale: false } },
      hooks: {
        // Limit lines across the whole plot, drawn rather than plotted as series.
        draw: [
          (u) => {
            const ctx = u.ctx;
            ctx.save();
            ctx.strokeStyle = '#c62828';
            ctx.setLineDash([6, 4]);
            ctx.lineWidth = 1;
            for (const v of [lim.min, lim.max]) {
              const y = Math.round(u.valToPos(v, 'y', true));
              ctx.beginPath();
              ctx.moveTo(u.bbox.left, y);
              ctx.lineTo(u.bbox.left + u.bbox.width, y);
              ctx.stroke();
            }
            ctx.restore();
          },
        ],
        setSelect: [
          (u) => {
            if (u.select.width < 5) return;
            const from = u.posToVal(u.select.left, 'x') * 1000;
            const to = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            setRange({ from: Math.round(from), to: Math.round(to) });
          },
        ],
      },
    };
    plot.current = new uPlot(opts, data as uPlot.AlignedData, el.current);
  }

  return (
    <section class="card" aria-label="Voltage">
      <div class="toolbar">
        <h2>Voltage (VAC)</h2>
        {PRESETS.map(([text, span]) => (
          <button
            key={text}
            type="button"
            class="ghost small"
            onClick={() => setRange({ from: Date.now() - span, to: Date.now() })}
          >
            {text}
          </button>
        ))}
        <label class="small">
          From{' '}
          <input
            type="datetime-local"
            value={toZoneInput(range.from)}
            onChange={(e) => setRange({ ...range, from: fromZoneInput((e.target as HTMLInputElement).value) })}
          />
        </label>
        <label class="small">
          To{' '}
          <input
            type="datetime-local"
            value={toZoneInput(range.to)}
            onChange={(e) => setRange({ ...range, to: fromZoneInput((e.target as HTMLInputElement).value) })}
          />
        </label>
      </div>
      <p class="muted small">
        {fmtTime(range.from)} → {fmtTime(range.to)} ({timeZone()}) · limits {lim.min}–{lim.max} V (dashed) ·{' '}
        {state.points} points · bucket {state.bucket} · drag to zoom
      </p>
      {state.msg && <p class="notice">{state.msg}</p>}
      <div ref={el} class="chart" data-testid="voltage-chart" />
    </section>
  );
}
