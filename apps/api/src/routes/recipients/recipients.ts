/**
 * Alert recipients: E.164 phone numbers (normalizePhone, default country LK) and/or an
 * e-mail address (normalizeEmail), with the channel they are told on (sms, email, both), subscribed by
 * scope (all / region / customer / device / line) and by kind, with optional quiet hours
 * in local time. A scoped principal sees and edits only recipients subscribed inside its
 * scope (a region or customer it holds, or a device in it).
 */
import type { Queryable } from '@spms/db';
import { EmailAddressError, normalizeEmail } from '@spms/email';
import { normalizePhone, PhoneNumberError } from '@spms/sms';
import { AppError } from '../../core/errors.js';
import type { Scope } from '../../core/principal.js';
import { SqlParams, scopeCondition } from '../../core/scope.js';

export type ScopeKind = 'all' | 'region' | 'customer' | 'device' | 'line';
export type Channel = 'sms' | 'email' | 'both';
/** What a recipient is told about (the request schema allows these only). */
export type AlertKind = 'outage' | 'restoration' | 'device_offline' | 'device_online' | 'voltage';

/** A recipient's stored columns, in the order of both INSERT and UPDATE (name … channel). */
const columnValues = (v: Required<RecipientInput>) => [
  v.name,
  v.phone,
  v.enabled,
  v.scopeKind,
  v.scopeValue,
  v.scopeLine,
  v.kinds,
  v.quietStart,
  v.quietEnd,
  v.timeZone,
  v.email,
  v.channel,
];

export interface RecipientInput {
  name?: string;
  phone?: string | null;
  email?: string | null;
  channel?: Channel;
  enabled?: boolean;
  scopeKind?: ScopeKind;
  scopeValue?: string | null;
  scopeLine?: number | null;
  kinds?: AlertKind[];
  quietStart?: string | null;
  quietEnd?: string | null;
  timeZone?: string | null;
}

export interface RecipientView {
  id: string;
  name: string;
  phone: string | null;
  email: string | null;
  channel: Channel;
  enabled: boolean;
  scopeKind: ScopeKind;
  scopeValue: string | null;
  scopeLine: number | null;
  kinds: AlertKind[];
  quietStart: string | null;
  quietEnd: string | null;
  timeZone: string | null;
  createdAt: string;
  updatedAt: string;
}

const COLS = `id::text, name, phone, email, channel, enabled, scope_kind, scope_value, scope_line, kinds, quiet_start, quiet_end, time_zone, created_at, updated_at`;

type Row = Record<string, unknown> & { created_at: Date; updated_at: Date };
const toView = (r: Row): RecipientView => ({
  id: r.id as string,
  name: r.name as string,
  phone: r.phone as string | null,
  email: r.email as string | null,
  channel: r.channel as Channel,
  enabled: r.enabled as boolean,
  scopeKind: r.scope_kind as ScopeKind,
  scopeValue: r.scope_value as string | null,
  scopeLine: r.scope_line as number | null,
  kinds: r.kinds as AlertKind[],
  quietStart: r.quiet_start as string | null,
  quietEnd: r.quiet_end as string | null,
  timeZone: r.time_zone as string | null,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

/** SQL condition: the recipient (alias r) subscribes inside the scope. */
export function visible(scope: Scope | null, p: SqlParams): string {
  if (!scope) return 'TRUE';
  const parts = [
    `(r.scope_kind IN ('device', 'line') AND EXISTS (SELECT 1 FROM devices d WHERE d.id::text = r.scope_value AND ${scopeCondition(scope, 'd', p)}))`,
  ];
  // A region subscription is inside the scope when the scope does not restrict customers, and vice versa.
  if (scope.regions && !scope.customers)
    parts.push(`(r.scope_kind = 'region' AND r.scope_value = ANY(${p.add(scope.regions)}::text[]))`);
  if (scope.customers && !scope.regions)
    parts.push(`(r.scope_kind = 'customer' AND r.scope_value = ANY(${p.add(scope.customers)}::text[]))`);
  return `(${parts.join(' OR ')})`;
}

export class RecipientService {
  constructor(private readonly db: Queryable) {}

  /** The same service inside the caller's transaction (a change and its audit entry). */
  inTransaction(tx: Queryable): RecipientService {
    return new RecipientService(tx);
  }

  async list(scope: Scope | null): Promise<RecipientView[]> {
    const p = new SqlParams();
    const { rows } = await this.db.query<Row>(
      `SELECT ${COLS} FROM alert_recipients r WHERE ${visible(scope, p)} ORDER BY name, id`,
      p.values,
    );
    return rows.map(toView);
  }

  async get(scope: Scope | null, id: string): Promise<RecipientView> {
    const p = new SqlParams();
    const { rows } = await this.db.query<Row>(
      `SELECT ${COLS} FROM alert_recipients r WHERE r.id::text = ${p.add(id)} AND ${visible(scope, p)}`,
      p.values,
    );
    if (!rows[0]) throw new AppError('NOT_FOUND', `no recipient ${id}`);
    return toView(rows[0]);
  }

  async create(scope: Scope | null, input: RecipientInput): Promise<RecipientView> {
    const v = await this.validate(scope, input as Required<RecipientInput>);
    const { rows } = await this.db.query<{ id: string }>(
      `INSERT INTO alert_recipients (name, phone, enabled, scope_kind, scope_value, scope_line, kinds, quiet_start, quiet_end, time_zone, email, channel)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id::text`,
      columnValues({ ...v, enabled: v.enabled ?? true }),
    );
    return this.get(null, rows[0]?.id as string);
  }

  async update(scope: Scope | null, id: string, input: RecipientInput): Promise<RecipientView> {
    const current = await this.get(scope, id);
    const v = await this.validate(scope, { ...current, ...input } as Required<RecipientInput>);
    await this.db.query(
      `UPDATE alert_recipients SET name = $2, phone = $3, enabled = $4, scope_kind = $5, scope_value = $6, scope_line = $7,
              kinds = $8, quiet_start = $9, quiet_end = $10, time_zone = $11, email = $12, channel = $13, updated_at = now()
        WHERE id = $1`,
      [id, ...columnValues(v)],
    );
    return this.get(null, id);
  }

  async remove(scope: Scope | null, id: string): Promise<RecipientView> {
    const current = await this.get(scope, id);
    await this.db.query('DELETE FROM alert_recipients WHERE id = $1', [id]);
    return current;
  }

  private async validate(scope: Scope | null, v: Required<RecipientInput>): Promise<Required<RecipientInput>> {
    const channel: Channel = v.channel ?? 'sms';
    let phone: string | null = null;
    if (v.phone) {
      try {
        phone = normalizePhone(v.phone, 'LK');
      } catch (err) {
        if (err instanceof PhoneNumberError) throw new AppError('BAD_REQUEST', `phone: ${err.message}`);
        throw err;
      }
    } else if (channel !== 'email')
      throw new AppError('BAD_REQUEST', `phone is required for channel ${channel} (or choose channel email)`);
    let email: string | null = null;
    if (v.email) {
      try {
        email = normalizeEmail(v.email);
      } catch (err) {
        if (err instanceof EmailAddressError) throw new AppError('BAD_REQUEST', `email: ${err.message}`);
        throw err;
      }
    } else if (channel !== 'sms')
      throw new AppError('BAD_REQUEST', `email is required for channel ${channel} (or choose channel sms)`);
    const kind = v.scopeKind;
    const scopeValue = kind === 'all' ? null : (v.scopeValue ?? null);
    const scopeLine = kind === 'line' ? (v.scopeLine ?? null) : null;
    if (kind !== 'all' && !scopeValue)
      throw new AppError('BAD_REQUEST', `scopeValue is required for scopeKind ${kind}`);
    if (kind === 'line' && !scopeLine)
      throw new AppError('BAD_REQUEST', 'scopeLine (1-8) is required for scopeKind line');
    if (((v.quietStart ?? null) === null) !== ((v.quietEnd ?? null) === null))
      throw new AppError('BAD_REQUEST', 'quietStart and quietEnd go together');
    if (v.timeZone) {
      try {
        new Intl.DateTimeFormat('en', { timeZone: v.timeZone });
      } catch {
        throw new AppError('BAD_REQUEST', `timeZone: unknown IANA zone ${v.timeZone}`);
      }
    }
    if (kind === 'device' || kind === 'line') {
      const { rows } = await this.db.query('SELECT 1 FROM devices WHERE id::text = $1', [scopeValue]);
      if (!rows[0]) throw new AppError('BAD_REQUEST', `scopeValue: no device ${scopeValue}`);
    }
    const out = { ...v, phone, email, channel, scopeValue, scopeLine, kinds: [...new Set(v.kinds)] };
    // A scoped principal may not create a subscription reaching outside its scope.
    if (scope) {
      const p = new SqlParams();
      const k = p.add(kind);
      const sv = p.add(scopeValue);
      const cond = visible(scope, p);
      const probe = await this.db.query(
        `SELECT 1 FROM (SELECT ${k}::text AS scope_kind, ${sv}::text AS scope_value) r WHERE ${cond}`,
        p.values,
      );
      if (!probe.rows[0]) throw new AppError('FORBIDDEN', 'this subscription reaches outside your scope');
    }
    return out;
  }
}
