/** Times are shown in the fleet's zone (Asia/Colombo by default, from config.json). */
import type { DeviceHealth, LineState } from './api/normalize.js';

let zone = 'Asia/Colombo';
export const setTimeZone = (z: string) => {
  zone = z;
  fmtFull = make();
};
export const timeZone = () => zone;

const make = () =>
  new Intl.DateTimeFormat('en-GB', {
    timeZone: zone,
    year: 'numeric',
    month: 'short',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hour12: false,
  });
let fmtFull = make();

export const fmtTime = (ms: number | null | undefined) => (ms == null ? '—' : fmtFull.format(ms));

export function fmtDuration(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return '—';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60 ? `${s % 60} s` : ''}`.trim();
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export const fmtAgo = (ms: number | null | undefined, now = Date.now()) =>
  ms == null ? '—' : `${fmtDuration(now - ms)} ago`;

export const fmtVolt = (v: number | null | undefined) => (v == null ? '—' : `${v.toFixed(1)} V`);

/** `<input type="datetime-local">` works in local browser time; convert via the fleet zone offset. */
export function zoneOffsetMs(at: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(at);
  const g = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  return (
    Date.UTC(g('year'), g('month') - 1, g('day'), g('hour'), g('minute'), g('second')) - Math.floor(at / 1000) * 1000
  );
}
export const toZoneInput = (ms: number) => new Date(ms + zoneOffsetMs(ms)).toISOString().slice(0, 16);
export function fromZoneInput(s: string): number {
  const naive = Date.parse(`${s}:00Z`);
  return naive - zoneOffsetMs(naive);
}

/** Colour is never the only signal: every state has a symbol and words too. */
export const HEALTH: Record<DeviceHealth, { text: string; icon: string; cls: string }> = {
  ok: { text: 'All lines powered', icon: '●', cls: 'ok' },
  partial: { text: 'Lines down', icon: '▲', cls: 'down' },
  offline: { text: 'Offline', icon: '✕', cls: 'offline' },
  unknown: { text: 'Unknown', icon: '?', cls: 'unknown' },
};
export const LINE: Record<LineState, { text: string; icon: string; cls: string }> = {
  powered: { text: 'Power', icon: '⚡', cls: 'ok' },
  down: { text: 'NO POWER', icon: '✕', cls: 'down' },
  unknown: { text: 'Unknown', icon: '?', cls: 'unknown' },
};
