/**
 * The fleet's device table, virtualised: rows have one fixed height, so only the rows in
 * view (and a few either side) are in the DOM; two spacer rows keep the scroll height of the
 * whole list. 10,000 devices cost ~40 rows, and a live update re-renders those only.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { DeviceStatus } from '../api/normalize.js';
import { fmtAgo, fmtVolt, HEALTH } from '../format.js';

export type SortKey = 'name' | 'region' | 'health' | 'linesDown' | 'lastActivityAt' | 'voltage';

/** Must match `tr.drow` in styles.css. */
export const ROW_HEIGHT = 40;
const OVERSCAN = 8;

const COLUMNS: [SortKey, string][] = [
  ['name', 'MSAN code'],
  ['region', 'Region'],
  ['health', 'State'],
  ['linesDown', 'Lines down'],
  ['lastActivityAt', 'Last seen'],
  ['voltage', 'Voltage'],
];

interface Props {
  rows: DeviceStatus[];
  sort: { key: SortKey; desc: boolean };
  onSort(key: SortKey): void;
}

export function DeviceTable({ rows, sort, onSort }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const head = useRef<HTMLTableSectionElement>(null);
  const [view, setView] = useState({ top: 0, height: 800 });

  // Scroll and resize move the window at most once per frame.
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    let frame = 0;
    const measure = () => {
      frame = 0;
      setView((v) =>
        v.top === el.scrollTop && v.height === el.clientHeight ? v : { top: el.scrollTop, height: el.clientHeight },
      );
    };
    const schedule = () => {
      if (!frame) frame = requestAnimationFrame(measure);
    };
    measure();
    el.addEventListener('scroll', schedule, { passive: true });
    const ro = new ResizeObserver(schedule);
    ro.observe(el);
    return () => {
      el.removeEventListener('scroll', schedule);
      ro.disconnect();
      if (frame) cancelAnimationFrame(frame);
    };
  }, []);

  // A new sort or search starts at the top of the list.
  useEffect(() => {
    if (box.current) box.current.scrollTop = 0;
  }, [sort.key, sort.desc]);

  const headHeight = head.current?.offsetHeight ?? 0;
  // Clamped: a search that leaves fewer rows than the scroll position still shows the last ones.
  const first = Math.max(
    0,
    Math.min(Math.floor((view.top - headHeight) / ROW_HEIGHT), rows.length - Math.ceil(view.height / ROW_HEIGHT)) -
      OVERSCAN,
  );
  const last = Math.min(rows.length, first + Math.ceil(view.height / ROW_HEIGHT) + 2 * OVERSCAN);
  const visible = rows.slice(first, last);

  return (
    <div class="vtable" ref={box} data-testid="device-scroll">
      <table class="devices" data-testid="device-table" data-rows={rows.length} aria-rowcount={rows.length + 1}>
        <thead ref={head}>
          <tr>
            {COLUMNS.map(([key, text]) => (
              <th key={key} aria-sort={sort.key === key ? (sort.desc ? 'descending' : 'ascending') : 'none'}>
                <button type="button" class="sort" onClick={() => onSort(key)}>
                  {text} {sort.key === key ? (sort.desc ? '▼' : '▲') : ''}
                </button>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {first > 0 && <tr class="spacer" style={{ height: `${first * ROW_HEIGHT}px` }} />}
          {visible.map((d, i) => (
            <DeviceRow key={d.id} d={d} index={first + i} />
          ))}
          {last < rows.length && <tr class="spacer" style={{ height: `${(rows.length - last) * ROW_HEIGHT}px` }} />}
        </tbody>
      </table>
    </div>
  );
}

function DeviceRow({ d, index }: { d: DeviceStatus; index: number }) {
  const down = d.linesDown
    ? d.lines
        .filter((l) => l.state === 'down')
        .map((l) => l.label)
        .join(', ')
    : '0';
  return (
    <tr class="drow" data-device={d.name} data-health={d.health} aria-rowindex={index + 2}>
      <td title={d.label ?? undefined}>
        <a href={`/devices/${encodeURIComponent(d.name)}`}>{d.name}</a>
        {d.label && <span class="muted small"> {d.label}</span>}
      </td>
      <td>{d.region ?? '—'}</td>
      <td>
        <span class={`badge ${HEALTH[d.health].cls}`}>
          {HEALTH[d.health].icon} {HEALTH[d.health].text}
        </span>
        {d.connectionLost && d.active !== false && <span class="muted small"> link lost</span>}
      </td>
      <td class="num" data-testid="lines-down" title={down}>
        {down}
      </td>
      <td>{fmtAgo(d.lastActivityAt)}</td>
      <td class="num">{fmtVolt(d.voltage)}</td>
    </tr>
  );
}
