/**
 * Planned interruptions: scheduled power cuts (CEB's rotating load shedding) declared for
 * a region or one device. Reports mark an outage as planned when it starts inside a window
 * covering its device or region (decided when read, so a late declaration still counts).
 * Visibility follows the device scope: a device window when its device is in scope, a
 * region window when the region holds an in-scope device (or is in the region scope).
 */
import type { Queryable } from '@spms/db';
import { AppError } from '../../core/errors.js';
import type { Principal, Scope } from '../../core/principal.js';
import { inScope, SqlParams, scopeCondition } from '../../core/scope.js';

export interface PlannedRow {
  id: string;
  region: string | null;
  device_id: string | null;
  device_name: string | null;
  starts_at: Date;
  ends_at: Date;
  reason: string;
  created_by: string;
  created_at: Date;
}

export function toPlannedView(r: PlannedRow) {
  return {
    id: r.id,
    region: r.region,
    deviceId: r.device_id,
    deviceName: r.device_name,
    startsAt: r.starts_at.toISOString(),
    endsAt: r.ends_at.toISOString(),
    reason: r.reason,
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
  };
}
export type PlannedView = ReturnType<typeof toPlannedView>;

export interface PlannedInput {
  region?: string | null;
  device?: string | null;
  startsAt?: string;
  endsAt?: string;
  reason?: string;
}

export interface PlannedQuery {
  region?: string;
  device?: string;
  /** Windows that end after `from` and start before `to`. */
  from?: string;
  to?: string;
  limit?: number;
  offset?: number;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SELECT = `SELECT p.*, d.name AS device_name FROM planned_interruptions p LEFT JOIN devices d ON d.id = p.device_id`;

/** The visibility rule as SQL on `p` (planned_interruptions) and `d` (its device, if any). */
function visible(scope: Scope | null, params: SqlParams): string {
  if (!scope) return 'TRUE';
  const dev = scopeCondition(scope, 'd', params);
  const inRegion = scopeCondition(scope, 'rd', params);
  const regionListed =
    scope.regions && !scope.customers ? `p.region = ANY(${params.add(scope.regions)}::text[])` : 'FALSE';
  return `((p.device_id IS NOT NULL AND ${dev}) OR (p.region IS NOT NULL AND (${regionListed} OR EXISTS (
    SELECT 1 FROM devices rd WHERE rd.region = p.region AND ${inRegion}))))`;
}

export class PlannedService {
  constructor(private readonly pg: Queryable) {}

  /** The same service inside the caller's transaction (a change and its audit entry). */
  inTransaction(tx: Queryable): PlannedService {
    return new PlannedService(tx);
  }

  async list(q: PlannedQuery, scope: Scope | null): Promise<{ items: PlannedView[]; total: number }> {
    const params = new SqlParams();
    const where = [visible(scope, params)];
    if (q.region) where.push(`p.region = ${params.add(q.region)}`);
    if (q.device) where.push(`(d.name = ${params.add(q.device)} OR d.id::text = ${params.add(q.device)})`);
    if (q.from) where.push(`p.ends_at > ${params.add(q.from)}::timestamptz`);
    if (q.to) where.push(`p.starts_at < ${params.add(q.to)}::timestamptz`);
    const cond = where.join(' AND ');
    const count = await this.pg.query<{ n: string }>(
      `SELECT count(*) AS n FROM planned_interruptions p LEFT JOIN devices d ON d.id = p.device_id WHERE ${cond}`,
      params.values,
    );
    const page = `LIMIT ${params.add(q.limit ?? 100)} OFFSET ${params.add(q.offset ?? 0)}`;
    const res = await this.pg.query<PlannedRow>(
      `${SELECT} WHERE ${cond} ORDER BY p.starts_at DESC, p.id ${page}`,
      params.values,
    );
    return { items: res.rows.map(toPlannedView), total: Number(count.rows[0]?.n ?? 0) };
  }

  /** 404 when missing or outside the scope. */
  async get(id: string, scope: Scope | null): Promise<PlannedView> {
    const params = new SqlParams();
    const cond = visible(scope, params);
    const res = UUID_RE.test(id)
      ? await this.pg.query<PlannedRow>(`${SELECT} WHERE p.id = ${params.add(id)} AND ${cond}`, params.values)
      : { rows: [] };
    const row = res.rows[0];
    if (!row) throw new AppError('NOT_FOUND', `no planned interruption with id "${id}"`);
    return toPlannedView(row);
  }

  async create(
    input: PlannedInput & { startsAt: string; endsAt: string; reason: string },
    by: Principal,
  ): Promise<PlannedView> {
    const target = await this.resolveTarget(input.region ?? null, input.device ?? null, by.scope);
    checkWindow(input.startsAt, input.endsAt);
    const res = await this.pg.query<{ id: string }>(
      `INSERT INTO planned_interruptions (id, region, device_id, starts_at, ends_at, reason, created_by)
       VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6) RETURNING id`,
      [target.region, target.deviceId, input.startsAt, input.endsAt, input.reason, by.userId ?? `${by.kind}:${by.id}`],
    );
    return this.get((res.rows[0] as { id: string }).id, null);
  }

  async update(
    id: string,
    input: PlannedInput,
    scope: Scope | null,
  ): Promise<{ before: PlannedView; after: PlannedView }> {
    const before = await this.get(id, scope);
    const retarget = input.region !== undefined || input.device !== undefined;
    const target = retarget
      ? await this.resolveTarget(input.region ?? null, input.device ?? null, scope)
      : await this.resolveTarget(before.region, before.deviceId, scope);
    const startsAt = input.startsAt ?? before.startsAt;
    const endsAt = input.endsAt ?? before.endsAt;
    checkWindow(startsAt, endsAt);
    await this.pg.query(
      `UPDATE planned_interruptions SET region = $2, device_id = $3, starts_at = $4, ends_at = $5, reason = $6 WHERE id = $1`,
      [before.id, target.region, target.deviceId, startsAt, endsAt, input.reason ?? before.reason],
    );
    return { before, after: await this.get(before.id, null) };
  }

  async remove(id: string, scope: Scope | null): Promise<PlannedView> {
    const before = await this.get(id, scope);
    await this.resolveTarget(before.region, before.deviceId, scope); // may see it, may not change it → 403
    await this.pg.query('DELETE FROM planned_interruptions WHERE id = $1', [before.id]);
    return before;
  }

  /**
   * Exactly one of region / device. A scoped operator may declare a window for an in-scope
   * device, or for a region in their region scope when they are not limited by customer
   * (a region-wide window changes other customers' reports).
   */
  private async resolveTarget(region: string | null, device: string | null, scope: Scope | null) {
    if ((region === null) === (device === null))
      throw new AppError('BAD_REQUEST', 'give exactly one of "region" or "device" (id or name)');
    if (region !== null) {
      if (scope && (scope.customers || !scope.regions?.includes(region)))
        throw new AppError('FORBIDDEN', `region: "${region}" is outside your scope`);
      return { region, deviceId: null };
    }
    const res = await this.pg.query<{ id: string; region: string | null; customer: string | null }>(
      UUID_RE.test(device as string)
        ? 'SELECT id, region, customer FROM devices WHERE id::text = lower($1) OR name = $1 ORDER BY id::text = lower($1) DESC LIMIT 1'
        : 'SELECT id, region, customer FROM devices WHERE name = $1',
      [device],
    );
    const row = res.rows[0];
    if (!row || !inScope(scope, row)) throw new AppError('NOT_FOUND', `device: no device "${device}"`);
    return { region: null, deviceId: row.id };
  }
}

function checkWindow(startsAt: string, endsAt: string): void {
  const s = Date.parse(startsAt);
  const e = Date.parse(endsAt);
  if (!(e > s)) throw new AppError('BAD_REQUEST', 'endsAt: must be after startsAt');
  if (e - s > 31 * 24 * 3600_000) throw new AppError('BAD_REQUEST', 'endsAt: a window lasts at most 31 days');
}
