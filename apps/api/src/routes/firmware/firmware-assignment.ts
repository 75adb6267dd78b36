/**
 * Firmware assignment from the device and profile services: those write through Prisma
 * transactions, while @spms/firmware's set-based SQL takes a pg executor. `prismaQueryable`
 * lets that SQL join the Prisma transaction, so a PATCH and its new targets commit together.
 */
import type { Prisma, Queryable } from '@spms/db';
import type { FirmwareTargetChange } from '@spms/firmware';
import { AppError } from '../../core/errors.js';

/** Called after the commit with the devices whose target was recomputed (the API pushes them). */
export type OnFirmwareTargets = (changes: FirmwareTargetChange[]) => Promise<void> | void;

/**
 * A Prisma interactive transaction as the `query` @spms/firmware calls (rows only:
 * rowCount is the number of rows returned, so that code relies on RETURNING).
 */
export function prismaQueryable(tx: Prisma.TransactionClient): Queryable {
  const query = async (text: string, values: unknown[] = []) => {
    const rows = await tx.$queryRawUnsafe<unknown[]>(text, ...values);
    return { rows, rowCount: rows.length };
  };
  return { query } as unknown as Queryable;
}

/** 400 naming the field when `firmwareId` is not an uploaded firmware. */
export async function assertFirmwareExists(tx: Prisma.TransactionClient, firmwareId: string | null): Promise<void> {
  if (firmwareId === null) return;
  const rows = await tx.$queryRawUnsafe<unknown[]>(
    'SELECT 1 FROM firmware WHERE id = $1::uuid FOR KEY SHARE',
    firmwareId,
  );
  if (rows.length === 0)
    throw new AppError('BAD_REQUEST', `firmwareId: no firmware ${firmwareId} (GET /api/firmware lists them)`);
}
