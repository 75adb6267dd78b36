/** Resolving a profile reference (name or id) and mapping unique-key races to 409. */
import { Prisma } from '@spms/db';
import { AppError } from '../../core/errors.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (s: string) => UUID_RE.test(s);

/** `ref` is a profile name or id; without one, the default profile (is_default). */
export async function resolveProfile(db: Prisma.TransactionClient, ref: string | undefined | null) {
  if (!ref) {
    const def = await db.deviceProfile.findFirst({ where: { isDefault: true } });
    if (!def) throw new AppError('BAD_REQUEST', 'profile: no default profile exists; name one with "profile"');
    return def;
  }
  const found =
    (isUuid(ref) ? await db.deviceProfile.findUnique({ where: { id: ref } }) : null) ??
    (await db.deviceProfile.findUnique({ where: { name: ref } }));
  if (!found) throw new AppError('BAD_REQUEST', `profile: unknown profile "${ref}" (see GET /api/profiles)`);
  return found;
}

/** A unique constraint hit by a concurrent writer after our own checks passed. */
export function isUniqueViolation(err: unknown): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002';
}
