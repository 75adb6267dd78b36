/**
 * Fleet map: Leaflet with supercluster. Only the clusters and markers in view are in the DOM,
 * so 10,000 devices cost a few dozen elements (ThingsBoard's map widget lags at ~1,000).
 * Live updates stay cheap: a redraw (what is in view) runs at most once per animation frame
 * and replaces only the markers whose look changed;
 * the cluster index (places, and each cluster's count of states) is rebuilt at once when a
 * device is added, removed or moved, and at most once a second when only states change, so
 * 100 changes a second never re-cluster 10,000 points on every event. Single devices show
 * their current state at once; a cluster's colour follows within a second.
 * Tiles are optional: with no tile URL, or none reachable, markers sit on a blank background.
 */
import 'leaflet/dist/leaflet.css';
import L from 'leaflet';
import { useEffect, useRef } from 'preact/hooks';
import Supercluster from 'supercluster';
import type { DeviceHealth, DeviceStatus } from '../api/normalize.js';
import { uiConfig } from '../config.js';
import { HEALTH } from '../format.js';
import { navigate } from '../router.js';

interface Props {
  devices: DeviceStatus[];
}
interface PointProps {
  i: number;
  h: DeviceHealth;
}
/** Least time between two index rebuilds for state changes only (ms). */
const REBUILD_MS = 1000;
interface ClusterAgg {
  ok: number;
  partial: number;
  offline: number;
  unknown: number;
}

// Worst state first: a cluster shows the most urgent state any of its devices is in.
const SEVERITY: DeviceHealth[] = ['partial', 'offline', 'unknown', 'ok'];

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function deviceIcon(d: DeviceStatus): L.DivIcon {
  const h = HEALTH[d.health];
  return L.divIcon({
    className: '',
    html: `<span class="pin ${h.cls}" title="${esc(d.name)}: ${h.text}" aria-label="${esc(d.name)}: ${h.text}">${h.icon}</span>`,
    iconSize: [22, 22],
    iconAnchor: [11, 11],
  });
}

function clusterIcon(count: number, agg: ClusterAgg): L.DivIcon {
  const worst = SEVERITY.find((s) => agg[s] > 0) ?? 'unknown';
  const h = HEALTH[worst];
  const size = count < 100 ? 34 : count < 1000 ? 42 : 50;
  const bad = agg.partial + agg.offline;
  return L.divIcon({
    className: '',
    html: `<span class="cluster ${h.cls}" style="width:${size}px;height:${size}px" title="${count} devices, ${agg.partial} with lines down, ${agg.offline} offline">${h.icon} ${count}${bad ? `<small>${bad} ✕</small>` : ''}</span>`,
    iconSize: [size, size],
    iconAnchor: [size / 2, size / 2],
  });
}

export function FleetMap({ devices }: Props) {
  const el = useRef<HTMLDivElement>(null);
  const map = useRef<L.Map | null>(null);
  const layer = useRef<L.LayerGroup | null>(null);
  const index = useRef<Supercluster<PointProps, ClusterAgg> | null>(null);
  /** The devices the index was built from (point i is indexed[i]), and the current ones. */
  const indexed = useRef<DeviceStatus[]>([]);
  const list = useRef<DeviceStatus[]>([]);
  const fitted = useRef(false);
  const frame = useRef(0);
  const rebuildTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const builtAt = useRef(0);

  const scheduleRedraw = () => {
    if (!frame.current) frame.current = requestAnimationFrame(redraw);
  };

  /** Markers on the map by what they show: a redraw keeps those still shown as they are. */
  const shown = useRef(new Map<string, L.Marker>());

  const redraw = () => {
    frame.current = 0;
    const m = map.current;
    const idx = index.current;
    const group = layer.current;
    if (!m || !idx || !group) return;
    const t0 = performance.now();
    const b = m.getBounds();
    const clusters = idx.getClusters([b.getWest(), b.getSouth(), b.getEast(), b.getNorth()], Math.round(m.getZoom()));
    const next = new Map<string, L.Marker>();
    for (const c of clusters) {
      const [lon, lat] = c.geometry.coordinates as [number, number];
      const p = c.properties as (PointProps & { cluster?: false }) | (ClusterAgg & Supercluster.ClusterProperties);
      let key: string;
      let make: () => L.Marker;
      if ('cluster' in p && p.cluster) {
        const icon = clusterIcon(p.point_count, p);
        key = `c${p.cluster_id}|${lat}|${lon}|${icon.options.html}`;
        make = () => {
          const marker = L.marker([lat, lon], { icon, keyboard: true });
          marker.on('click', () =>
            m.setView(
              [lat, lon],
              Math.min(index.current?.getClusterExpansionZoom(p.cluster_id) ?? m.getZoom() + 1, m.getMaxZoom()),
            ),
          );
          return marker;
        };
      } else {
        // The current state of the device the point was indexed for.
        const at = (p as PointProps).i;
        const d = list.current[at]?.id === indexed.current[at]?.id ? list.current[at] : indexed.current[at];
        if (!d) continue;
        const tip = `<b>${esc(d.name)}</b><br>${HEALTH[d.health].icon} ${HEALTH[d.health].text}${d.linesDown ? ` (${d.linesDown} down)` : ''}`;
        key = `d${d.id}|${lat}|${lon}|${d.health}|${tip}`;
        make = () => {
          const marker = L.marker([lat, lon], { icon: deviceIcon(d), keyboard: true, title: d.name });
          marker.bindTooltip(tip);
          marker.on('click', () => navigate(`/devices/${encodeURIComponent(d.name)}`));
          return marker;
        };
      }
      let marker = shown.current.get(key);
      if (marker) shown.current.delete(key);
      else {
        marker = make();
        group.addLayer(marker);
      }
      next.set(key, marker);
    }
    for (const gone of shown.current.values()) group.removeLayer(gone);
    shown.current = next;
    // Read by the e2e test and visible in the browser's performance panel.
    performance.measure('spms:map-redraw', { start: t0 });
  };

  useEffect(() => {
    if (!el.current) return;
    const m = L.map(el.current, { preferCanvas: true, zoomControl: true, worldCopyJump: true }).setView(
      uiConfig.mapCenter,
      uiConfig.mapZoom,
    );
    if (uiConfig.tileUrl)
      L.tileLayer(uiConfig.tileUrl, { attribution: uiConfig.tileAttribution, maxZoom: 19, crossOrigin: true }).addTo(m);
    layer.current = L.layerGroup().addTo(m);
    m.on('moveend', scheduleRedraw);
    map.current = m;
    const ro = new ResizeObserver(() => m.invalidateSize());
    ro.observe(el.current);
    return () => {
      ro.disconnect();
      if (frame.current) cancelAnimationFrame(frame.current);
      frame.current = 0;
      if (rebuildTimer.current) clearTimeout(rebuildTimer.current);
      rebuildTimer.current = null;
      m.remove();
      map.current = null;
    };
  }, []);

  const rebuild = () => {
    rebuildTimer.current = null;
    const devices = list.current;
    const idx = new Supercluster<PointProps, ClusterAgg>({
      radius: 60,
      maxZoom: 16,
      map: (p) => ({ ok: 0, partial: 0, offline: 0, unknown: 0, [p.h]: 1 }) as ClusterAgg,
      reduce: (acc, p) => {
        acc.ok += p.ok;
        acc.partial += p.partial;
        acc.offline += p.offline;
        acc.unknown += p.unknown;
      },
    });
    const points: Supercluster.PointFeature<PointProps>[] = [];
    devices.forEach((d, i) => {
      if (d.lat == null || d.lon == null) return;
      points.push({
        type: 'Feature',
        properties: { i, h: d.health },
        geometry: { type: 'Point', coordinates: [d.lon, d.lat] },
      });
    });
    const t0 = performance.now();
    idx.load(points);
    performance.measure('spms:map-index', { start: t0 });
    index.current = idx;
    indexed.current = devices;
    builtAt.current = performance.now();
    if (!fitted.current && points.length && map.current) {
      fitted.current = true;
      const bounds = L.latLngBounds(
        points.map((p) => [p.geometry.coordinates[1] as number, p.geometry.coordinates[0] as number] as L.LatLngTuple),
      );
      map.current.fitBounds(bounds.pad(0.2), { maxZoom: 12 });
    }
    scheduleRedraw();
  };

  useEffect(() => {
    list.current = devices;
    scheduleRedraw(); // single devices show their state at once
    if (rebuildTimer.current) return; // a rebuild is due; it reads the list then
    const moved = !index.current || !samePlaces(indexed.current, devices);
    if (!moved && sameStates(indexed.current, devices)) return;
    const wait = moved ? 0 : Math.max(0, builtAt.current + REBUILD_MS - performance.now());
    rebuildTimer.current = setTimeout(rebuild, wait);
  }, [devices]);

  return (
    <div class="map-wrap">
      <div ref={el} class="map" role="application" aria-label="Map of devices" data-testid="fleet-map" />
      <ul class="legend" aria-label="Legend">
        {(['ok', 'partial', 'offline', 'unknown'] as const).map((h) => (
          <li key={h}>
            <span class={`pin ${HEALTH[h].cls}`}>{HEALTH[h].icon}</span> {HEALTH[h].text}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Same devices at the same places, in the same order (the index's point i is list[i]). */
function samePlaces(a: DeviceStatus[], b: DeviceStatus[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as DeviceStatus;
    const y = b[i] as DeviceStatus;
    if (x !== y && (x.id !== y.id || x.lat !== y.lat || x.lon !== y.lon)) return false;
  }
  return true;
}

/** Same state for every device (same places assumed): nothing a cluster counts changed. */
function sameStates(a: DeviceStatus[], b: DeviceStatus[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && a[i]?.health !== b[i]?.health) return false;
  return true;
}
