/**
 * Fleet map: Leaflet with supercluster. Only the clusters and markers in view are in the DOM,
 * so 10,000 devices cost a few dozen elements (ThingsBoard's map widget lags at ~1,000).
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
  const list = useRef<DeviceStatus[]>([]);
  const fitted = useRef(false);

  const redraw = () => {
    const m = map.current;
    const idx = index.current;
    if (!m || !idx || !layer.current) return;
    const t0 = performance.now();
    const b = m.getBounds();
    const clusters = idx.getClusters([b.getWest(), b.getSouth(), b.getEast(), b.getNorth()], Math.round(m.getZoom()));
    layer.current.clearLayers();
    for (const c of clusters) {
      const [lon, lat] = c.geometry.coordinates as [number, number];
      const p = c.properties as (PointProps & { cluster?: false }) | (ClusterAgg & Supercluster.ClusterProperties);
      if ('cluster' in p && p.cluster) {
        const marker = L.marker([lat, lon], { icon: clusterIcon(p.point_count, p), keyboard: true });
        marker.on('click', () =>
          m.setView([lat, lon], Math.min(idx.getClusterExpansionZoom(p.cluster_id), m.getMaxZoom())),
        );
        layer.current.addLayer(marker);
      } else {
        const d = list.current[(p as PointProps).i];
        if (!d) continue;
        const marker = L.marker([lat, lon], { icon: deviceIcon(d), keyboard: true, title: d.name });
        marker.bindTooltip(
          `<b>${esc(d.name)}</b><br>${HEALTH[d.health].icon} ${HEALTH[d.health].text}${d.linesDown ? ` (${d.linesDown} down)` : ''}`,
        );
        marker.on('click', () => navigate(`/devices/${encodeURIComponent(d.name)}`));
        layer.current.addLayer(marker);
      }
    }
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
    m.on('moveend', redraw);
    map.current = m;
    const ro = new ResizeObserver(() => m.invalidateSize());
    ro.observe(el.current);
    return () => {
      ro.disconnect();
      m.remove();
      map.current = null;
    };
  }, []);

  useEffect(() => {
    list.current = devices;
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
    if (!fitted.current && points.length && map.current) {
      fitted.current = true;
      const bounds = L.latLngBounds(
        points.map((p) => [p.geometry.coordinates[1] as number, p.geometry.coordinates[0] as number] as L.LatLngTuple),
      );
      map.current.fitBounds(bounds.pad(0.2), { maxZoom: 12 });
    }
    redraw();
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
