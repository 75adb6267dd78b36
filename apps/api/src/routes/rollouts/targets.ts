/**
 * Which devices a rollout covers, always inside the caller's scope: a rollout's visibility as
 * SQL, the devices a requested scope (region, customer, profile, named devices) or a rollback
 * selects, and the unfinished rollouts already holding some of them. Used by store.ts.
 */
import type { Queryable } from '@spms/db';
import { AppError } from '../../core/errors.js';
import type { Scope } from '../../core/principal.js';
import { SqlParams, scopeCondition } from '../../core/scope.js';

export interface ScopeInput {
  region?: string;
  customer?: string;
  profile?: string;
  devices?: string[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * SQL: the rollout `alias` is visible in `scope` ('TRUE' for the whole fleet): it has a device
 * and none outside `scope`. A rollout whose devices were all deleted has none to decide by:
 * only unscoped principals see it (not every scoped one, as "no device outside" would say).
 */
export function visibleCondition(scope: Scope | null, alias: string, params: SqlParams): string {
  if (!scope) return 'TRUE';
  return `(EXISTS (SELECT 1 FROM firmware_rollout_devices va WHERE va.rollout_id = ${alias}.id)
           AND NOT EXISTS (SELECT 1 FROM firmware_rollout_devices vx JOIN devices vd ON vd.id = vx.device_id
                       WHERE vx.rollout_id = ${alias}.id AND (${scopeCondition(scope, 'vd', params)}) IS NOT TRUE))`;
}

function checkInside(scope: Scope | null, input: ScopeInput): void {
  if (!scope) return;
  if (scope.regions && input.region !== undefined && !scope.regions.includes(input.region))
    throw new AppError(
      'FORBIDDEN',
      `scope.region: "${input.region}" is outside your scope (${scope.regions.join(', ')})`,
    );
  if (scope.customers && input.customer !== undefined && !scope.customers.includes(input.customer))
    throw new AppError(
      'FORBIDDEN',
      `scope.customer: "${input.customer}" is outside your scope (${scope.customers.join(', ')})`,
    );
}

/** The device ids a scope selects, inside the caller's scope; named devices must all exist there. */
export async function resolveScope(tx: Queryable, input: ScopeInput, callerScope: Scope | null): Promise<string[]> {
  checkInside(callerScope, input);
  const params = new SqlParams();
  const where: string[] = [scopeCondition(callerScope, 'd', params)];
  if (input.region !== undefined) where.push(`d.region = ${params.add(input.region)}`);
  if (input.customer !== undefined) where.push(`d.customer = ${params.add(input.customer)}`);
  if (input.profile !== undefined) {
    const ref = input.profile;
    const { rows } = await tx.query<{ id: string }>(
      `SELECT id FROM device_profiles WHERE name = $1 ${UUID.test(ref) ? 'OR id = $1::uuid' : ''}`,
      [ref],
    );
    if (!rows[0]) throw new AppError('NOT_FOUND', `scope.profile: profile "${ref}" not found`);
    where.push(`d.profile_id = ${params.add(rows[0].id)}`);
  }
  if (input.devices !== undefined) {
    const refs = [...new Set(input.devices)];
    const found = await findDevices(tx, refs, callerScope);
    const missing = refs.filter((r) => !found.has(r));
    if (missing.length > 0)
      throw new AppError(
        'NOT_FOUND',
        `scope.devices: ${missing
          .slice(0, 5)
          .map((m) => `"${m}"`)
          .join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''} not found`,
      );
    where.push(`d.id = ANY(${params.add([...new Set(found.values())])}::uuid[])`);
  }
  const { rows } = await tx.query<{ id: string }>(
    `SELECT d.id FROM devices d WHERE ${where.join(' AND ')}`,
    params.values,
  );
  return rows.map((r) => r.id);
}

/** Named devices visible to the caller: each reference (id or name) → device id. */
async function findDevices(tx: Queryable, refs: string[], callerScope: Scope | null): Promise<Map<string, string>> {
  const params = new SqlParams();
  const names = params.add(refs);
  const uuids = params.add(refs.filter((r) => UUID.test(r)));
  const { rows } = await tx.query<{ id: string; name: string }>(
    `SELECT d.id, d.name FROM devices d
      WHERE (d.name = ANY(${names}::text[]) OR d.id = ANY(${uuids}::uuid[]))
        AND ${scopeCondition(callerScope, 'd', params)}`,
    params.values,
  );
  const byRef = new Map<string, string>();
  for (const r of rows) {
    byRef.set(r.name, r.id);
    byRef.set(r.id, r.id);
  }
  const out = new Map<string, string>();
  for (const r of refs) {
    const id = byRef.get(r) ?? byRef.get(r.toLowerCase());
    if (id) out.set(r, id);
  }
  return out;
}

/** The devices an earlier rollout (visible to the caller) gave its target to: a rollback's scope. */
export async function rollbackScope(tx: Queryable, rolloutId: string, callerScope: Scope | null): Promise<string[]> {
  const params = new SqlParams();
  const id = params.add(rolloutId);
  const { rows: found } = await tx.query(
    `SELECT 1 FROM firmware_rollouts r WHERE r.id = ${id} AND ${visibleCondition(callerScope, 'r', params)}`,
    params.values,
  );
  if (found.length === 0) throw new AppError('NOT_FOUND', `rollbackOf: rollout ${rolloutId} not found`);
  const { rows } = await tx.query<{ device_id: string }>(
    'SELECT device_id FROM firmware_rollout_devices WHERE rollout_id = $1 AND assigned_at IS NOT NULL',
    [rolloutId],
  );
  return rows.map((r) => r.device_id);
}

/**
 * Devices in another unfinished rollout (running or paused, not yet finished there): the one
 * holding most of them that the caller can see (id and count), else `hidden` — a rollout
 * outside the caller's scope is not named, nor are its devices counted.
 */
export async function conflicts(
  tx: Queryable,
  deviceIds: string[],
  callerScope: Scope | null,
): Promise<{ rolloutId: string; n: number } | 'hidden' | null> {
  const params = new SqlParams();
  const ids = params.add(deviceIds);
  const { rows } = await tx.query<{ rollout_id: string; n: number; visible: boolean }>(
    `SELECT rd.rollout_id, count(*)::int AS n, bool_or(${visibleCondition(callerScope, 'r', params)}) AS visible
       FROM firmware_rollout_devices rd JOIN firmware_rollouts r ON r.id = rd.rollout_id
      WHERE rd.device_id = ANY(${ids}::uuid[]) AND r.status IN ('running', 'paused')
        AND rd.state IN ('pending', 'assigned', 'downloading')
      GROUP BY rd.rollout_id ORDER BY n DESC, rd.rollout_id`,
    params.values,
  );
  const seen = rows.find((r) => r.visible);
  if (seen) return { rolloutId: seen.rollout_id, n: seen.n };
  return rows.length > 0 ? 'hidden' : null;
}
