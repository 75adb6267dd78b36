/**
 * One full garbage collection after a connect storm, once connects have quietened.
 *
 * A storm of connects (the fleet back after a blackout) leaves a broker process's V8 heap full
 * of the storm's garbage: while thousands of CONNECTs wait for CPU, their packets, promises and
 * Redis replies live long enough to be promoted to the old generation, and die there. An idle
 * connection then holds ~3.5 KiB of live heap, yet the process stayed at 12–13 KiB of RSS per
 * connection: V8 collects the old generation when it next grows, and a broker of idle devices
 * does not grow. V8's own memory reducer sometimes collects it within half a minute, sometimes
 * not at all (docs/broker-memory.md has the measurements). So the broker counts accepted
 * connects, and when at least `minConnects` arrived since its last collection and the last
 * `quietMs` saw fewer than 1 % of that many per second, it runs one full, compacting
 * collection: one pause (tens to a few hundred ms with tens of thousands of connections) at a
 * quiet moment instead of the storm's garbage held indefinitely. Off with `minConnects` 0.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface StormCollection {
  /** Connects accepted since the previous collection. */
  connects: number;
  /** How long the collection paused the process. */
  seconds: number;
  /** V8 heap in use before and after, bytes. */
  heapUsedBefore: number;
  heapUsedAfter: number;
}

export interface StormCollectorOptions {
  /** Connects since the last collection that make a storm; 0 = never collect. */
  minConnects: number;
  /** How long connects must have stayed below 1 % of minConnects a second (default 5 s). */
  quietMs?: number;
  /** How often the counts are looked at (default 1 s). */
  tickMs?: number;
  /** The collection itself (default: V8's full GC, see exposeGc). */
  collect?: () => void;
  onCollected?: (c: StormCollection) => void;
}

export interface StormCollector {
  /** One more connect accepted. */
  noteConnect(): void;
  close(): void;
}

/**
 * V8's full collection, compacting: the global `gc` when the process runs with --expose-gc,
 * otherwise the same function from a fresh context after setting the flag at run time (the
 * flag only decides whether new contexts get `gc`; the collection is the whole isolate's).
 * The old generation after a storm is fragmented — each page holds a few live connections
 * among the storm's dead objects — and a plain full collection frees the dead objects but
 * evacuates few pages, so the process stays as large; V8's `--compact-on-every-full-gc` is
 * set for this one collection so that every fragmented page is evacuated and given back.
 * Undefined where `gc` cannot be had.
 */
export function exposeGc(): (() => void) | undefined {
  let gc = (globalThis as { gc?: () => void }).gc;
  try {
    if (typeof gc !== 'function') {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as (() => void) | undefined;
    }
  } catch {
    return undefined;
  }
  if (typeof gc !== 'function') return undefined;
  const full = gc;
  return () => {
    setFlagsFromString('--compact-on-every-full-gc');
    try {
      full();
    } finally {
      setFlagsFromString('--no-compact-on-every-full-gc');
    }
  };
}

export function startStormCollector(opts: StormCollectorOptions): StormCollector {
  const quietMs = opts.quietMs ?? 5000;
  const tickMs = opts.tickMs ?? 1000;
  const collect = opts.minConnects > 0 ? (opts.collect ?? exposeGc()) : undefined;
  if (!collect) return { noteConnect() {}, close() {} };
  // Connects per tick over the last quietMs, and since the last collection.
  const window: number[] = new Array(Math.max(1, Math.ceil(quietMs / tickMs))).fill(0);
  const quietLimit = (opts.minConnects / 100) * (quietMs / 1000);
  let slot = 0;
  let thisTick = 0;
  let sinceCollection = 0;
  const timer = setInterval(() => {
    window[slot] = thisTick;
    slot = (slot + 1) % window.length;
    thisTick = 0;
    if (sinceCollection < opts.minConnects) return;
    if (window.reduce((a, b) => a + b, 0) >= quietLimit) return;
    const connects = sinceCollection;
    sinceCollection = 0;
    const heapUsedBefore = getHeapStatistics().used_heap_size;
    const t0 = performance.now();
    collect();
    const seconds = (performance.now() - t0) / 1000;
    opts.onCollected?.({ connects, seconds, heapUsedBefore, heapUsedAfter: getHeapStatistics().used_heap_size });
  }, tickMs);
  timer.unref();
  return {
    noteConnect() {
      thisTick++;
      sinceCollection++;
    },
    close() {
      clearInterval(timer);
    },
  };
}
