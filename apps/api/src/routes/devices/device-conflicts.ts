/**
 * Name and credentials clashes, answered without leaking devices outside the caller's
 * scope. Names and credentials are unique across the fleet, so a clash must still fail;
 * but a scoped caller never learns the other device's name, id or region, and a name clash
 * reads exactly like a credentials clash when that device is outside their scope.
 */
import type { Prisma } from '@spms/db';
import { AppError } from '../../core/errors.js';
import type { Scope } from '../../core/principal.js';
import { inScope } from '../../core/scope.js';

/** One answer for a name or credentials clash with a device the caller may not see. */
export const HIDDEN_CONFLICT =
  'conflicts with an existing device outside your scope (same name or same credentials); choose another name and credentials';

type Db = Pick<Prisma.TransactionClient, 'device' | 'deviceCredentials'>;

const hiddenConflict = () => new AppError('CONFLICT', HIDDEN_CONFLICT);

/** 409 when another device has this name. */
export async function assertNameFree(db: Db, name: string, scope: Scope | null): Promise<void> {
  const other = await db.device.findUnique({ where: { name }, select: { region: true, customer: true } });
  if (!other) return;
  if (!inScope(scope, other)) throw hiddenConflict();
  throw new AppError('CONFLICT', `name: a device named "${name}" already exists; choose another name`);
}

/** 409 when another device already authenticates with the same look-up key. */
export async function assertCredentialsUnused(
  db: Db,
  credentialsId: string,
  scope: Scope | null,
  exceptDeviceId?: string,
): Promise<void> {
  const other = await db.deviceCredentials.findUnique({
    where: { credentialsId },
    select: { deviceId: true, device: { select: { name: true, region: true, customer: true } } },
  });
  if (!other || other.deviceId === exceptDeviceId) return;
  if (!inScope(scope, other.device)) throw hiddenConflict();
  throw new AppError(
    'CONFLICT',
    `credentials: already used by device ${other.device.name}; every device needs its own client id / username / token`,
  );
}
