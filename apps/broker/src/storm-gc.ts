/**
 * One full garbage collection after a connect storm, once connects have quietened.
 *
 * A storm of connects (the fleet back after a blackout) leaves a broker process's V8 heap full
 * of the storm's garbage: while thousands of CONNECTs wait for CPU, their packets, promises and
 * Redis replies live long enough to be promoted to the old generation, and die there. An idle
 * connection then holds ~3.5 KiB of live heap, yet the process stayed at 12–13 KiB of RSS per
 * connection: V8 collects the old generation when it next grows, and a broker of idle devices
 * does not grow. V8's own memory reducer sometimes collects it within half a minute, sometimes
 * not at all (docs/broker-memory.md has the measurements). So the broker counts CONNECTs, and
 * when at least `minConnects` were accepted within the last minute (a storm: steady churn
 * below that never is one) and the last `quietMs` (12 s) saw fewer than 1 % of that many answered
 * a second, accepted or refused, it runs one full, compacting collection: one stop-the-world
 * pause (0.2–0.65 s measured with 16,000–18,000 connections; it grows with the live heap) at
 * a quiet moment instead of the storm's garbage held indefinitely. Off with `minConnects` 0.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Default quiet time before the collection (see StormCollectorOptions.quietMs). */
export const QUIET_MS = 12_000;

export interface StormCollection {
  /** Connects accepted in the storm window before the collection. */
  connects: number;
  /** How long the collection paused the process. */
  seconds: number;
  /** V8 heap in use before and after, bytes. */
  heapUsedBefore: number;
  heapUsedAfter: number;
}

export interface StormCollectorOptions {
  /** Accepted connects within stormWindowMs that make a storm; 0 = never collect. */
  minConnects: number;
  /** How far back accepted connects count towards a storm (default 60 s). */
  stormWindowMs?: number;
  /**
   * How long connects (accepted or refused) must have stayed below 1 % of minConnects a second
   * (default 12 s: V8 gives back the young generation's grown semi-spaces, 32 MiB, only at a
   * full collection that finds the allocation rate low, which it judges over about the last
   * ten seconds; after 5 s quiet it still counted the storm and kept them).
   */
  quietMs?: number;
  /** How often the counts are looked at (default 1 s). */
  tickMs?: number;
  /** The collection itself (default: V8's full, compacting GC, see exposeGc). */
  collect?: () => void;
  onCollected?: (c: StormCollection) => void;
  onError?: (err: unknown) => void;
}

export interface StormCollector {
  /** false when no collection function could be had (the collector does nothing). */
  available: boolean;
  /** One CONNECT answered: accepted, or refused (refusals count against quiet only). */
  noteConnect(accepted: boolean): void;
  close(): void;
}

/** V8 flags given at start (command line or NODE_OPTIONS), to leave the operator's choices alone. */
function startFlags(): string {
  return `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`.replaceAll('_', '-');
}

/**
 * V8's full collection, compacting: the global `gc` when the process runs with --expose-gc,
 * otherwise the same function from a fresh context after setting the flag at run time (the
 * flag only decides whether new contexts get `gc`; the collection is the whole isolate's).
 * The old generation after a storm is fragmented — each page holds a few live connections
 * among the storm's dead objects — and a plain full collection frees the dead objects but
 * evacuates few pages, so the process stays as large; V8's `--compact-on-every-full-gc` is
 * set for this one collection so that every fragmented page is evacuated and given back.
 * Flags are not touched when the process was started with frozen V8 flags (changing one
 * would abort it) or with the compaction flag already on. Undefined where `gc` cannot be had.
 */
export function exposeGc(): (() => void) | undefined {
  const flags = startFlags();
  const frozen = /--freeze-flags-after-init/.test(flags.replaceAll('--no-freeze-flags-after-init', ''));
  let gc = (globalThis as { gc?: () => void }).gc;
  try {
    if (typeof gc !== 'function' && !frozen) {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as (() => void) | undefined;
    }
  } catch {
    return undefined;
  }
  if (typeof gc !== 'function') return undefined;
  const full = gc;
  if (frozen || /--compact-on-every-full-gc/.test(flags)) return full;
  return () => {
    setFlagsFromString('--compact-on-every-full-gc');
    try {
      full();
    } finally {
      setFlagsFromString('--no-compact-on-every-full-gc');
    }
  };
}

/** Counts per tick over the last `size` ticks. */
class TickWindow {
  private readonly counts: number[];
  private slot = 0;
  current = 0;
  constructor(size: number) {
    this.counts = new Array(Math.max(1, size)).fill(0);
  }
  /** Closes the current tick; returns the sum over the window. */
  tick(): number {
    this.counts[this.slot] = this.current;
    this.slot = (this.slot + 1) % this.counts.length;
    this.current = 0;
    return this.counts.reduce((a, b) => a + b, 0);
  }
  clear(): void {
    this.counts.fill(0);
    this.current = 0;
  }
}

export function startStormCollector(opts: StormCollectorOptions): StormCollector {
  const tickMs = opts.tickMs ?? 1000;
  const quietMs = opts.quietMs ?? QUIET_MS;
  const collect = opts.minConnects > 0 ? (opts.collect ?? exposeGc()) : undefined;
  if (!collect) return { available: opts.minConnects === 0, noteConnect() {}, close() {} };
  const accepted = new TickWindow(Math.ceil((opts.stormWindowMs ?? 60_000) / tickMs));
  const answered = new TickWindow(Math.ceil(quietMs / tickMs));
  const quietLimit = (opts.minConnects / 100) * (quietMs / 1000);
  const timer = setInterval(() => {
    const storm = accepted.tick();
    const recent = answered.tick();
    if (storm < opts.minConnects || recent >= quietLimit) return;
    accepted.clear();
    try {
      const heapUsedBefore = getHeapStatistics().used_heap_size;
      const t0 = performance.now();
      collect();
      const seconds = (performance.now() - t0) / 1000;
      opts.onCollected?.({
        connects: storm,
        seconds,
        heapUsedBefore,
        heapUsedAfter: getHeapStatistics().used_heap_size,
      });
    } catch (err) {
      opts.onError?.(err);
    }
  }, tickMs);
  timer.unref();
  return {
    available: true,
    noteConnect(ok) {
      answered.current++;
      if (ok) accepted.current++;
    },
    close() {
      clearInterval(timer);
    },
  };
}
