/**
 * The staged-rollout controller. One worker process at a time drives every rollout (a Redis
 * lease; the others wait to take over when its holder stops renewing), once a tick
 * (ROLLOUT_TICK_MS). Each rollout is one transaction: lock its row, read the current wave
 * and the devices in flight, apply @spms/firmware's `decide`, write the outcome and the new
 * targets; the fw_* attributes are pushed to live sessions after the commit (a device
 * that misses the push reads them when it next connects).
 *
 * `tickRollouts(deps, now)` is one tick for tests and tools, with the time given.
 */
import type { Pool } from '@spms/db';
import { withTransaction } from '@spms/db';
import { decide, type FirmwareTargetChange, pushFirmwareAttributes, ROLLOUT_STATUSES } from '@spms/firmware';
import type { Logger } from '@spms/log';
import type { Redis } from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import { RedisLease } from '../bridge/lease.js';
import { activeRolloutIds, applyDecision, loadDevices, lockRollout, rolloutCounts } from './store.js';

export interface RolloutMetrics {
  rollouts: Gauge<'status'>;
  devices: Counter<'result'>;
}

export function createRolloutMetrics(registry?: Registry): RolloutMetrics {
  const registers = registry ? [registry] : [];
  return {
    rollouts: new Gauge({
      name: 'spms_firmware_rollouts',
      help: 'Firmware rollouts by status (set by the worker that drives them; 0 elsewhere)',
      labelNames: ['status'],
      registers,
    }),
    devices: new Counter({
      name: 'spms_firmware_rollout_devices_total',
      help: 'Rollout devices by what the controller did: assigned, updated, failed, skipped',
      labelNames: ['result'],
      registers,
    }),
  };
}

export interface RolloutDeps {
  pool: Pool;
  redis: Redis;
  prefix: string;
  logger: Logger;
  metrics?: RolloutMetrics;
}

/** What one tick did, summed over the rollouts. */
export interface TickSummary {
  rollouts: number;
  assigned: number;
  updated: number;
  failed: number;
  skipped: number;
  paused: string[];
  completed: string[];
}

/** One tick over every running or paused rollout, at `now` (epoch ms). */
export async function tickRollouts(deps: RolloutDeps, now: number): Promise<TickSummary> {
  const summary: TickSummary = {
    rollouts: 0,
    assigned: 0,
    updated: 0,
    failed: 0,
    skipped: 0,
    paused: [],
    completed: [],
  };
  for (const id of await activeRolloutIds(deps.pool)) {
    let changes: FirmwareTargetChange[] = [];
    try {
      const done = await withTransaction(deps.pool, async (tx) => {
        const r = await lockRollout(tx, id);
        if (!r) return null; // finished or cancelled since the list was read
        const d = decide(r.view, await loadDevices(tx, r), now);
        changes = await applyDecision(tx, r, d, now);
        return d;
      });
      if (!done) continue;
      summary.rollouts++;
      summary.assigned += done.assign.length;
      summary.updated += done.updated.length;
      summary.failed += done.failed.length;
      summary.skipped += done.skipped.length;
      if (done.pause) {
        summary.paused.push(id);
        deps.logger.warn({ rollout: id, reason: done.pause }, 'rollout paused');
      }
      if (done.complete) {
        summary.completed.push(id);
        deps.logger.info({ rollout: id }, 'rollout completed');
      }
      if (done.advanceTo !== null) deps.logger.info({ rollout: id, wave: done.advanceTo + 1 }, 'rollout next wave');
      const m = deps.metrics?.devices;
      m?.inc({ result: 'assigned' }, done.assign.length);
      m?.inc({ result: 'updated' }, done.updated.length);
      m?.inc({ result: 'failed' }, done.failed.length);
      m?.inc({ result: 'skipped' }, done.skipped.length);
    } catch (err) {
      deps.logger.warn({ rollout: id, err: (err as Error).message }, 'rollout tick failed');
      continue;
    }
    if (changes.length > 0) await pushFirmwareAttributes(deps.redis, deps.prefix, changes, { wakeup: true });
  }
  if (deps.metrics) {
    const counts = await rolloutCounts(deps.pool);
    for (const s of ROLLOUT_STATUSES) deps.metrics.rollouts.set({ status: s }, counts.get(s) ?? 0);
  }
  return summary;
}

/** The lease's key: one driver per Redis prefix (one SPMS installation). */
export const rolloutLeaderKey = (prefix: string) => `${prefix}:rollouts:leader`;

export interface RolloutController {
  close(): Promise<void>;
}

/**
 * Ticks every `intervalMs` while this process holds the lease (taken or renewed each tick;
 * it lasts three ticks, at least 15 s, so a slow tick does not lose it).
 */
export function startRolloutController(deps: RolloutDeps & { intervalMs: number }): RolloutController {
  const lease = new RedisLease(deps.redis, rolloutLeaderKey(deps.prefix), Math.max(15_000, 3 * deps.intervalMs));
  let stopped = false;
  let leader = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  const tick = async () => {
    const holds = await lease.hold();
    if (holds !== leader)
      deps.logger.info({ leader: holds }, holds ? 'driving rollouts' : 'no longer driving rollouts');
    leader = holds;
    if (!holds) {
      deps.metrics?.rollouts.reset();
      return;
    }
    await tickRollouts(deps, Date.now());
  };
  const loop = () => {
    running = tick()
      .catch((err: unknown) => deps.logger.warn({ err: (err as Error).message }, 'rollout controller tick failed'))
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, deps.intervalMs);
      });
  };
  timer = setTimeout(loop, 0);
  return {
    async close() {
      stopped = true;
      clearTimeout(timer);
      await running;
      if (leader) await lease.release().catch(() => {});
    },
  };
}
