/** A device by id or name (plain SQL: the command routes run beside the device registry). */
import type { Pool } from '@spms/db';
import { AppError } from '../../core/errors.js';
import type { Scope } from '../../core/principal.js';
import { inScope } from '../../core/scope.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** 404 when missing or outside the caller's scope (the same answer, so scope leaks nothing). */
export async function resolveDevice(
  pg: Pool,
  idOrName: string,
  scope: Scope | null = null,
): Promise<{ id: string; name: string }> {
  const res = UUID_RE.test(idOrName)
    ? await pg.query('SELECT id, name, region, customer FROM devices WHERE id = $1::uuid OR name = $2 LIMIT 1', [
        idOrName,
        idOrName,
      ])
    : await pg.query('SELECT id, name, region, customer FROM devices WHERE name = $1', [idOrName]);
  const row = res.rows[0];
  if (!row || !inScope(scope, row)) throw new AppError('NOT_FOUND', `no device "${idOrName}"`);
  return { id: row.id, name: row.name };
}
