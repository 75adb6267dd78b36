/**
 * The rollouts' SQL for the operator API: creating one (its scope resolved to a device list
 * inside the caller's scope by targets.ts, planned into waves), reading them with counts, and
 * the operator's pause, resume and cancel. The worker's controller (apps/worker/src/rollouts)
 * does everything else.
 *
 * Visibility: a scoped principal sees a rollout only when every one of its devices is in
 * their scope (operators can only create such rollouts; an admin's fleet-wide one is not
 * theirs to see or stop). Anything else answers 404, like a missing one.
 */
import { randomUUID } from 'node:crypto';
import type { PoolClient, Queryable } from '@spms/db';
import { planWaves, ROLLOUT_DEVICE_STATES, type RolloutDeviceState, wavesProblem } from '@spms/firmware';
import { AppError } from '../../core/errors.js';
import type { Principal, Scope } from '../../core/principal.js';
import { SqlParams } from '../../core/scope.js';
import { conflicts, resolveScope, rollbackScope, type ScopeInput, visibleCondition } from './targets.js';

export interface CreateInput {
  firmwareId: string;
  scope?: ScopeInput;
  rollbackOf?: string;
  waves: number[];
  maxConcurrent: number;
  failureThreshold: number;
  successTimeoutSec?: number;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/**
 * Creates a rollout in the caller's transaction: validates, resolves the scope to devices,
 * refuses devices another unfinished rollout holds (creations are serialized by an advisory
 * lock, so two at once cannot both take a device), plans the waves and stores it running.
 * Returns its id.
 */
export async function createRollout(tx: PoolClient, input: CreateInput, by: Principal): Promise<string> {
  const problem = wavesProblem(input.waves);
  if (problem) throw new AppError('BAD_REQUEST', problem);
  if ((input.scope === undefined) === (input.rollbackOf === undefined))
    throw new AppError('BAD_REQUEST', 'give exactly one of "scope" or "rollbackOf"');
  const fw = await tx.query('SELECT id FROM firmware WHERE id = $1 FOR SHARE', [input.firmwareId]);
  if (fw.rows.length === 0) throw new AppError('NOT_FOUND', `firmwareId: firmware ${input.firmwareId} not found`);
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('spms:firmware_rollouts:create'))`);
  const deviceIds = input.rollbackOf
    ? await rollbackScope(tx, input.rollbackOf, by.scope)
    : await resolveScope(tx, input.scope as ScopeInput, by.scope);
  if (deviceIds.length === 0)
    throw new AppError('BAD_REQUEST', 'scope: no device matches (in your scope); nothing to roll out');
  const busy = await conflicts(tx, deviceIds, by.scope);
  if (busy === 'hidden')
    throw new AppError(
      'CONFLICT',
      'some of these devices are in an unfinished rollout outside your scope: ask an administrator to cancel it or wait for it to finish',
    );
  if (busy)
    throw new AppError(
      'CONFLICT',
      `${busy.n} of these devices are in rollout ${busy.rolloutId}, not finished: cancel it or wait for it to finish`,
      { rolloutId: busy.rolloutId, devices: busy.n },
    );
  const id = randomUUID();
  const plan = planWaves(deviceIds, input.waves, id);
  const scope = {
    ...(input.rollbackOf ? { rollbackOf: input.rollbackOf } : input.scope),
    ...(by.scope ? { within: by.scope } : {}),
  };
  await tx.query(
    `INSERT INTO firmware_rollouts (id, firmware_id, scope, waves, max_concurrent, failure_threshold,
                                    success_timeout_sec, created_by)
     VALUES ($1, $2, $3::jsonb, $4::int[], $5, $6, $7, $8)`,
    [
      id,
      input.firmwareId,
      JSON.stringify(scope),
      input.waves,
      input.maxConcurrent,
      input.failureThreshold,
      input.successTimeoutSec ?? null,
      by.userId ?? `${by.kind}:${by.id}`,
    ],
  );
  await tx.query(
    `INSERT INTO firmware_rollout_devices (rollout_id, device_id, wave)
     SELECT $1, d, w FROM unnest($2::uuid[], $3::int[]) AS x(d, w)`,
    [id, plan.flat(), plan.flatMap((w, i) => w.map(() => i))],
  );
  return id;
}

type Counts = Record<RolloutDeviceState, number>;
const zero = (): Counts => Object.fromEntries(ROLLOUT_DEVICE_STATES.map((s) => [s, 0])) as Counts;

interface SummaryRow {
  id: string;
  firmware_id: string;
  title: string;
  version: string;
  scope: unknown;
  waves: number[];
  max_concurrent: number;
  failure_threshold: number;
  success_timeout_sec: number | null;
  status: 'running' | 'paused' | 'completed' | 'cancelled';
  status_reason: string | null;
  current_wave: number;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  counts: { wave: number; state: RolloutDeviceState; n: number }[] | null;
}

const SUMMARY = `
SELECT r.id, r.firmware_id, f.title, f.version, r.scope, r.waves, r.max_concurrent, r.failure_threshold,
       r.success_timeout_sec, r.status, r.status_reason, r.current_wave, r.created_by, r.created_at, r.updated_at,
       r.finished_at,
       (SELECT json_agg(json_build_object('wave', c.wave, 'state', c.state, 'n', c.n))
          FROM (SELECT wave, state, count(*)::int AS n FROM firmware_rollout_devices
                 WHERE rollout_id = r.id GROUP BY wave, state) c) AS counts
  FROM firmware_rollouts r JOIN firmware f ON f.id = r.firmware_id`;

function toSummary(r: SummaryRow) {
  const counts = zero();
  const perWave = new Map<number, Counts>();
  for (const c of r.counts ?? []) {
    counts[c.state] += c.n;
    const w = perWave.get(c.wave) ?? zero();
    w[c.state] += c.n;
    perWave.set(c.wave, w);
  }
  const waveCount = perWave.size === 0 ? 0 : Math.max(...perWave.keys()) + 1;
  const summary = {
    id: r.id,
    firmware: { id: r.firmware_id, title: r.title, version: r.version },
    scope: r.scope,
    waves: r.waves,
    maxConcurrent: r.max_concurrent,
    failureThreshold: r.failure_threshold,
    successTimeoutSec: r.success_timeout_sec,
    status: r.status,
    statusReason: r.status_reason,
    currentWave: r.current_wave + 1,
    waveCount,
    devices: Object.values(counts).reduce((a, b) => a + b, 0),
    counts,
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    finishedAt: iso(r.finished_at),
  };
  const waves = Array.from({ length: waveCount }, (_, i) => {
    const c = perWave.get(i) ?? zero();
    const devices = Object.values(c).reduce((a, b) => a + b, 0);
    // The controller's rate (@spms/firmware decide): devices not assigned yet do not count.
    const attempted = c.updated + c.failed + c.assigned + c.downloading;
    return {
      wave: i + 1,
      // The plan drops waves only at the end: the last one reaches every device.
      targetPercent: i === waveCount - 1 ? 100 : (r.waves[i] ?? 100),
      devices,
      counts: c,
      failureRate: attempted > 0 ? Math.round((c.failed / attempted) * 10_000) / 10_000 : 0,
    };
  });
  return { summary, waves };
}

export type RolloutSummaryView = ReturnType<typeof toSummary>['summary'];

export async function listRollouts(
  db: Queryable,
  q: { status?: string; limit?: number; offset?: number },
  scope: Scope | null,
): Promise<{ items: RolloutSummaryView[]; total: number }> {
  const params = new SqlParams();
  const where = [visibleCondition(scope, 'r', params)];
  if (q.status) where.push(`r.status = ${params.add(q.status)}`);
  const total = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM firmware_rollouts r WHERE ${where.join(' AND ')}`,
    params.values,
  );
  const limit = params.add(q.limit ?? 100);
  const offset = params.add(q.offset ?? 0);
  const { rows } = await db.query<SummaryRow>(
    `${SUMMARY} WHERE ${where.join(' AND ')} ORDER BY r.created_at DESC, r.id LIMIT ${limit} OFFSET ${offset}`,
    params.values,
  );
  return { items: rows.map((r) => toSummary(r).summary), total: total.rows[0]?.n ?? 0 };
}

/** The rollout if the caller sees it (locked FOR UPDATE with `lock`), else a 404. */
async function findVisible(db: Queryable, id: string, scope: Scope | null, lock = false): Promise<SummaryRow> {
  const params = new SqlParams();
  const idParam = params.add(id);
  const { rows } = await db.query<SummaryRow>(
    `${SUMMARY} WHERE r.id = ${idParam} AND ${visibleCondition(scope, 'r', params)}${lock ? ' FOR UPDATE OF r' : ''}`,
    params.values,
  );
  if (!rows[0]) throw new AppError('NOT_FOUND', `rollout ${id} not found`);
  return rows[0];
}

interface DeviceRow {
  device_id: string;
  name: string;
  region: string | null;
  wave: number;
  state: string;
  assigned_at: Date | null;
  finished_at: Date | null;
  error: string | null;
  has_report: boolean;
  current_title: string | null;
  current_version: string | null;
  fw_state: string | null;
  state_at: Date | null;
}

export async function getRollout(
  db: Queryable,
  id: string,
  q: { wave?: number; state?: string; limit?: number; offset?: number },
  scope: Scope | null,
) {
  const { summary, waves } = toSummary(await findVisible(db, id, scope));
  const params = new SqlParams();
  const where = [`rd.rollout_id = ${params.add(id)}`];
  if (q.wave !== undefined) where.push(`rd.wave = ${params.add(q.wave - 1)}`);
  if (q.state !== undefined) where.push(`rd.state = ${params.add(q.state)}`);
  const total = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM firmware_rollout_devices rd WHERE ${where.join(' AND ')}`,
    params.values,
  );
  const limit = params.add(q.limit ?? 100);
  const offset = params.add(q.offset ?? 0);
  const { rows } = await db.query<DeviceRow>(
    `SELECT rd.device_id, d.name, d.region, rd.wave, rd.state, rd.assigned_at, rd.finished_at, rd.error,
            f.device_id IS NOT NULL AS has_report, f.current_title, f.current_version, f.state AS fw_state, f.state_at
       FROM firmware_rollout_devices rd JOIN devices d ON d.id = rd.device_id
       LEFT JOIN device_firmware f ON f.device_id = rd.device_id
      WHERE ${where.join(' AND ')}
      ORDER BY rd.wave, d.name LIMIT ${limit} OFFSET ${offset}`,
    params.values,
  );
  return {
    ...summary,
    perWave: waves,
    perDevice: {
      total: total.rows[0]?.n ?? 0,
      items: rows.map((r) => ({
        deviceId: r.device_id,
        name: r.name,
        region: r.region,
        wave: r.wave + 1,
        state: r.state,
        assignedAt: iso(r.assigned_at),
        finishedAt: iso(r.finished_at),
        error: r.error,
        reported: r.has_report
          ? { title: r.current_title, version: r.current_version, state: r.fw_state, at: iso(r.state_at) }
          : null,
      })),
    },
  };
}

export type RolloutAction = 'pause' | 'resume' | 'cancel';

/**
 * An operator's pause, resume or cancel, in the caller's transaction (the rollout row locked
 * like the controller's tick). Idempotent: asking for the state it is already in changes
 * nothing (`changed` false, no audit entry). A finished rollout cannot change: 409.
 * Cancel marks pending devices cancelled and stops assigning; devices already assigned keep
 * the rollout's firmware as their target (a device half-way through a download is not sent
 * back), are marked cancelled with a note, and devices already updated stay updated.
 */
export async function changeStatus(
  tx: PoolClient,
  id: string,
  action: RolloutAction,
  by: Principal,
): Promise<{ changed: boolean; before: string; after: string }> {
  const row = await findVisible(tx, id, by.scope, true);
  const before = row.status;
  const target = { pause: 'paused', resume: 'running', cancel: 'cancelled' }[action];
  if (before === target) return { changed: false, before, after: before };
  const allowed = { pause: ['running'], resume: ['paused'], cancel: ['running', 'paused'] }[action];
  if (!allowed.includes(before)) throw new AppError('CONFLICT', `rollout ${id} is ${before}: it cannot be ${target}`);
  const who = by.userId ?? `${by.kind}:${by.id}`;
  const reason = action === 'resume' ? null : `${target} by ${who}`;
  await tx.query(
    `UPDATE firmware_rollouts SET status = $2, status_reason = $3, updated_at = now(),
            finished_at = CASE WHEN $2 = 'cancelled' THEN now() ELSE finished_at END
      WHERE id = $1`,
    [id, target, reason],
  );
  if (action === 'cancel')
    await tx.query(
      `UPDATE firmware_rollout_devices
          SET finished_at = now(),
              error = CASE WHEN state = 'pending' THEN NULL
                           ELSE 'cancelled in flight: keeps the rollout''s firmware as its target' END,
              state = 'cancelled'
        WHERE rollout_id = $1 AND state IN ('pending', 'assigned', 'downloading')`,
      [id],
    );
  return { changed: true, before, after: target };
}

export async function summaryOf(db: Queryable, id: string, scope: Scope | null): Promise<RolloutSummaryView> {
  return toSummary(await findVisible(db, id, scope)).summary;
}
