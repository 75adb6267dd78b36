/**
 * Live fleet state: one read of /api/status/compact, then the SSE stream tells us something
 * changed and we read only the devices changed since (api/compact.ts; the full /api/status
 * on an API without it).
 * Events are coalesced (a storm of 1,000 line drops costs one re-fetch, not 1,000) and the
 * stream resumes with Last-Event-ID on its own (EventSource does that natively). When the
 * stream route is missing, we fall back to polling.
 */
import { useEffect, useState } from 'preact/hooks';
import { type FleetStatus, getSession, NotAvailable, streamUrl } from './api/client.js';
import { fleetStatusCompact, reloadCompactNext } from './api/compact.js';
import { applyEvents } from './api/patch.js';

export type LinkState = 'connecting' | 'live' | 'polling' | 'offline';

export interface LiveEvent {
  type: string;
  deviceId: string | null;
  data: Record<string, unknown>;
}

interface Store {
  status: FleetStatus | null;
  error: string | null;
  link: LinkState;
  updatedAt: number | null;
}

let store: Store = { status: null, error: null, link: 'connecting', updatedAt: null };
const storeListeners = new Set<() => void>();
const eventListeners = new Set<(e: LiveEvent) => void>();

let notifyTimer: ReturnType<typeof setTimeout> | null = null;
/** Re-renders are batched: during an event storm the map and table redraw twice a second at most. */
function set(patch: Partial<Store>): void {
  store = { ...store, ...patch };
  if (notifyTimer) return;
  const big = (store.status?.devices.length ?? 0) > 2000;
  notifyTimer = setTimeout(
    () => {
      notifyTimer = null;
      for (const l of storeListeners) l();
    },
    big ? 500 : 16,
  );
}

// Small fleets re-read the status quickly after events; big ones (megabytes of JSON) rely
// on applying the events locally and re-read less often.
const BIG_FLEET = 2000;
const coalesceMs = () => ((store.status?.devices.length ?? 0) > BIG_FLEET ? 3000 : 250);
const maxWaitMs = () => ((store.status?.devices.length ?? 0) > BIG_FLEET ? 10_000 : 1000);
// Without the stream: status every 2 s (the API caches it for 1 s), pages every 10 s.
const POLL_MS = 2_000;
const PAGE_POLL_EVERY = 5;
let pollTicks = 0;
/**
 * Events of the last REAPPLY_MS, re-applied to every fetched status: /api/status may serve a
 * snapshot up to ~11 s old (1 s cache + 10 s stale-while-revalidate), which would otherwise
 * undo a line drop the stream already showed.
 */
const REAPPLY_MS = 15_000;
let recent: { at: number; e: LiveEvent }[] = [];
let staleRetries = 0;
let timer: ReturnType<typeof setTimeout> | null = null;
let firstPendingAt = 0;
let inflight = false;
let again = false;

async function refresh(): Promise<void> {
  if (inflight) {
    again = true;
    return;
  }
  inflight = true;
  try {
    const askedAt = Date.now();
    let status = await fleetStatusCompact();
    // A cached answer older than the newest event we have: ask once more when it is rebuilt.
    const newest = recent.at(-1)?.at ?? 0;
    const behindEvent = status.generatedAt != null && newest > status.generatedAt && askedAt - newest < REAPPLY_MS;
    if ((status.stale || behindEvent) && staleRetries < 5) {
      staleRetries++;
      setTimeout(() => scheduleRefresh(), 1200);
    } else if (!status.stale) staleRetries = 0;
    const cutoff = Date.now() - REAPPLY_MS;
    recent = recent.filter((r) => r.at >= cutoff);
    status = applyEvents(
      status,
      recent.map((r) => r.e),
    );
    pending = []; // in `recent`, applied above
    set({ status, error: null, updatedAt: Date.now() });
  } catch (err) {
    set({ error: (err as Error).message });
  } finally {
    inflight = false;
    if (again) {
      again = false;
      void refresh();
    }
  }
}

/** Trailing debounce with a ceiling, so a steady trickle of events still refreshes every second. */
function scheduleRefresh(): void {
  const now = Date.now();
  if (!timer) firstPendingAt = now;
  if (timer) clearTimeout(timer);
  const wait = Math.max(0, Math.min(coalesceMs(), firstPendingAt + maxWaitMs() - now));
  timer = setTimeout(() => {
    timer = null;
    void refresh();
  }, wait);
}

// The stream's `event:` names are the worker's domain event types (apps/worker/src/events.ts),
// plus `resync` when the server could not replay from Last-Event-ID (we re-read everything).
const EVENT_TYPES = [
  'outage.opened',
  'outage.closed',
  'outage.changed',
  'outage.removed',
  'device.offline',
  'device.online',
  'device.connection_lost',
  'device.reconnected',
  'voltage.episode_opened',
  'voltage.episode_closed',
  'voltage.episode_changed',
  'voltage.episode_removed',
  'alert.opened',
  'alert.cleared',
  'alert.acknowledged',
  'resync',
];

let source: EventSource | null = null;
let pollTimer: ReturnType<typeof setInterval> | null = null;

function onMessage(type: string, ev: MessageEvent): void {
  let data: Record<string, unknown> = {};
  try {
    data = JSON.parse(ev.data as string) as Record<string, unknown>;
  } catch {}
  const payload = (data.payload as Record<string, unknown> | undefined) ?? {};
  const deviceId = (data.deviceId ?? payload.deviceId ?? null) as string | null;
  const e: LiveEvent = { type: (data.type as string | undefined) ?? type, deviceId, data };
  if (e.type === 'resync') reloadCompactNext(); // too much missed: read the whole fleet again
  recent.push({ at: Date.now(), e });
  pending.push(e);
  // Applied once per animation frame, all together: 100 events a second cost a few list
  // copies a second, not 100 (and nothing while the tab is hidden: the next read has them).
  if (!pendingFrame) pendingFrame = requestAnimationFrame(flushPending);
  for (const l of eventListeners) l(e);
  scheduleRefresh();
}

let pending: LiveEvent[] = [];
let pendingFrame = 0;
function flushPending(): void {
  pendingFrame = 0;
  const events = pending;
  pending = [];
  if (!store.status || events.length === 0) return;
  const patched = applyEvents(store.status, events);
  if (patched !== store.status) set({ status: patched, updatedAt: Date.now() });
}

function startPolling(): void {
  if (pollTimer) return;
  set({ link: 'polling' });
  pollTimer = setInterval(() => {
    void refresh();
    if (++pollTicks % PAGE_POLL_EVERY === 0)
      for (const l of eventListeners) l({ type: 'poll', deviceId: null, data: {} });
  }, POLL_MS);
}

// Activity times and voltages change without events: re-read now and then even when quiet.
let backgroundTimer: ReturnType<typeof setInterval> | null = null;
const backgroundMs = () => ((store.status?.devices.length ?? 0) > BIG_FLEET ? 60_000 : 30_000);

export function connect(): void {
  disconnect();
  if (!getSession()) return;
  set({ link: 'connecting' });
  void refresh();
  let lastBackground = Date.now();
  backgroundTimer = setInterval(() => {
    if (Date.now() - lastBackground < backgroundMs() || pollTimer) return;
    lastBackground = Date.now();
    reloadCompactNext(); // voltages and activity times: a full read (304 when nothing changed)
    scheduleRefresh();
  }, 10_000);
  const es = new EventSource(streamUrl());
  source = es;
  let opened = false;
  es.onopen = () => {
    set({ link: 'live' });
    // After a reconnect, whatever happened meanwhile is in the next status.
    if (opened) scheduleRefresh();
    opened = true;
  };
  es.onmessage = (ev) => onMessage('message', ev);
  for (const t of EVENT_TYPES) es.addEventListener(t, (ev) => onMessage(t, ev as MessageEvent));
  es.onerror = () => {
    // CLOSED = the server refused the stream (404/401): EventSource will not retry on its own.
    if (es.readyState === EventSource.CLOSED) {
      void fetch(streamUrl(), { method: 'HEAD' })
        .then((r) => (r.status === 404 ? Promise.reject(new NotAvailable(404, 'no stream')) : null))
        .then(
          () => setTimeout(() => source === es && connect(), 5000),
          () => startPolling(),
        );
      if (source === es) source = null;
    } else set({ link: 'offline' });
  };
}

export function disconnect(): void {
  source?.close();
  source = null;
  if (pollTimer) clearInterval(pollTimer);
  pollTimer = null;
  if (backgroundTimer) clearInterval(backgroundTimer);
  backgroundTimer = null;
}

export const refreshNow = () => void refresh();

export function useFleet(): Store {
  const [, force] = useState(0);
  useEffect(() => {
    const l = () => force((n) => n + 1);
    storeListeners.add(l);
    return () => void storeListeners.delete(l);
  }, []);
  return store;
}

/** Calls `fn` on every live event (and every poll tick when the stream is unavailable). */
export function useLiveEvents(fn: (e: LiveEvent) => void, deps: unknown[] = []): void {
  useEffect(() => {
    eventListeners.add(fn);
    return () => void eventListeners.delete(fn);
  }, deps);
}
