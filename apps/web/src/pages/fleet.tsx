/** Fleet: counters, the map, and a searchable, sortable device table — all live. */
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { DeviceStatus } from '../api/normalize.js';
import { DeviceTable, type SortKey } from '../components/device-table.js';
import { FleetMap } from '../components/fleet-map.js';
import { fmtAgo } from '../format.js';
import { useFleet } from '../live.js';

const HEALTH_ORDER = { partial: 0, offline: 1, unknown: 2, ok: 3 };
const collator = new Intl.Collator(undefined, { numeric: true });

/**
 * Ranks of strings in natural order (0003_MSAN before 0010_MSAN), kept between renders:
 * sorting 10,000 devices by rank is a comparison of numbers, not 130,000 collations. A
 * string not yet ranked (a new device, region or label) ranks them all again.
 */
class Ranks {
  private ranks = new Map<string, number>();
  of(values: Iterable<string>): Map<string, number> {
    for (const v of values)
      if (!this.ranks.has(v)) {
        const all = [...new Set(values)].sort(collator.compare);
        this.ranks = new Map(all.map((s, i) => [s, i]));
        break;
      }
    return this.ranks;
  }
}
const nameRanks = new Ranks();
const regionRanks = new Ranks();

function sortRows(devices: DeviceStatus[], key: SortKey, desc: boolean): DeviceStatus[] {
  const names = nameRanks.of(devices.map((d) => d.name));
  const name = (d: DeviceStatus) => names.get(d.name) ?? 0;
  let value: (d: DeviceStatus) => number | null;
  if (key === 'name') value = name;
  else if (key === 'health') value = (d) => HEALTH_ORDER[d.health];
  else if (key === 'region') {
    const regions = regionRanks.of(devices.flatMap((d) => (d.region === null ? [] : [d.region])));
    value = (d) => (d.region === null ? null : (regions.get(d.region) ?? null));
  } else value = (d) => d[key] ?? null;
  const keyed = devices.map((d) => ({ d, v: value(d), n: name(d) }));
  keyed.sort((a, b) => {
    // No value last in both directions; equal values in name order.
    if (a.v === null || b.v === null) return a.v === b.v ? a.n - b.n : a.v === null ? 1 : -1;
    return (desc ? b.v - a.v : a.v - b.v) || a.n - b.n;
  });
  return keyed.map((k) => k.d);
}

export function FleetPage() {
  const { status, error, updatedAt } = useFleet();
  const [search, setSearch] = useState('');
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: 'health', desc: false });
  const devices = status?.devices ?? [];

  const rows = useMemo(() => {
    const q = search.trim().toLowerCase();
    const hit = q
      ? devices.filter((d) => `${d.name} ${d.label ?? ''} ${d.region ?? ''}`.toLowerCase().includes(q))
      : devices;
    return sortRows(hit, sort.key, sort.desc);
  }, [devices, search, sort]);

  // The first paint with the fleet in it, for the browser test's trace (performance panel too).
  const shown = devices.length > 0;
  useEffect(() => {
    if (shown && performance.getEntriesByName('spms:fleet-rendered').length === 0)
      requestAnimationFrame(() => performance.mark('spms:fleet-rendered'));
  }, [shown]);

  const c = status?.counters;
  return (
    <div class="fleet">
      <section class="counters" aria-label="Fleet counters">
        <Counter label="Devices active" value={c?.devicesActive} testid="count-active" />
        <Counter label="Devices inactive" value={c?.devicesInactive} testid="count-inactive" bad />
        <Counter label="Lines without power" value={c?.linesWithoutPower} testid="count-lines-down" bad />
        <Counter label="Open outages" value={c?.openOutages} testid="count-outages" bad />
      </section>
      {error && <p class="error">Could not load the fleet: {error}</p>}
      {status && !status.live && (
        <p class="notice">
          Live device state is not available from this API yet (no /api/status): showing the registry only.
        </p>
      )}
      <div class="fleet-grid">
        <FleetMap devices={devices} />
        <section class="table-wrap" aria-label="Devices">
          <div class="toolbar">
            <input
              type="search"
              placeholder="Search MSAN code, label, region…"
              value={search}
              onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
              aria-label="Search devices"
            />
            <span class="muted" data-testid="device-count">
              {rows.length} of {devices.length}
              {updatedAt ? ` · updated ${fmtAgo(updatedAt)}` : ''}
            </span>
          </div>
          <DeviceTable
            rows={rows}
            sort={sort}
            onSort={(key) => setSort({ key, desc: sort.key === key ? !sort.desc : false })}
          />
        </section>
      </div>
    </div>
  );
}

function Counter(p: { label: string; value: number | undefined; testid: string; bad?: boolean }) {
  return (
    <div class={`counter ${p.bad && p.value ? 'bad' : ''}`} data-testid={p.testid}>
      <span class="value">{p.value ?? '…'}</span>
      <span class="label">
        {p.bad && p.value ? '⚠ ' : ''}
        {p.label}
      </span>
    </div>
  );
}
