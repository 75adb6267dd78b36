/**
 * Runtime settings from /config.json (a static file next to index.html: operators edit it in
 * place to point at private or offline tiles, no rebuild). Build-time defaults via VITE_*.
 */
export interface UiConfig {
  /** Leaflet URL template; empty = no tiles (markers on a blank background). */
  tileUrl: string;
  tileAttribution: string;
  mapCenter: [number, number];
  mapZoom: number;
  timeZone: string;
}

const defaults: UiConfig = {
  tileUrl: import.meta.env.VITE_TILE_URL ?? 'https://tile.openstreetmap.org/{z}/{x}/{y}.png',
  tileAttribution: import.meta.env.VITE_TILE_ATTRIBUTION ?? '© OpenStreetMap contributors',
  mapCenter: [6.93, 79.86],
  mapZoom: 9,
  timeZone: 'Asia/Colombo',
};

export let uiConfig: UiConfig = defaults;

export async function loadUiConfig(): Promise<UiConfig> {
  try {
    const res = await fetch('/config.json', { cache: 'no-cache' });
    if (res.ok) uiConfig = { ...defaults, ...((await res.json()) as Partial<UiConfig>) };
  } catch {}
  return uiConfig;
}
