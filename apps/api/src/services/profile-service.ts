/** Device profiles: defaults for a class of devices (each value overridable per device). */
import type { Prisma, PrismaClient, Transport } from '@spms/db';
import { AppError } from '../plugins/errors.js';
import { type AuditHook, prismaExec } from './audit.js';
import { isUniqueViolation, isUuid } from './profile-ref.js';
import { checkVoltageRange, type FieldError, formatFieldErrors } from './validation.js';

export interface ProfileFields {
  description?: string | null;
  transport?: Transport;
  inactivityTimeoutSec?: number;
  momentaryThresholdSec?: number;
  voltageNominal?: number;
  voltageMin?: number;
  voltageMax?: number;
  voltageHysteresis?: number;
  alertDebounceSec?: number;
  isDefault?: boolean;
}
export interface CreateProfileInput extends ProfileFields {
  name: string;
}
export interface UpdateProfileInput extends ProfileFields {
  name?: string;
}

type ProfileRow = Prisma.DeviceProfileGetPayload<{ include: { _count: { select: { devices: true } } } }>;

export function toProfileView(p: ProfileRow) {
  const { _count, createdAt, updatedAt, ...rest } = p;
  return {
    ...rest,
    deviceCount: _count.devices,
    createdAt: createdAt.toISOString(),
    updatedAt: updatedAt.toISOString(),
  };
}
export type ProfileView = ReturnType<typeof toProfileView>;

const COUNT = { _count: { select: { devices: true } } } as const;

export class ProfileService {
  constructor(private readonly prisma: PrismaClient) {}

  async list(): Promise<ProfileView[]> {
    const rows = await this.prisma.deviceProfile.findMany({ include: COUNT, orderBy: { name: 'asc' } });
    return rows.map(toProfileView);
  }

  async get(idOrName: string): Promise<ProfileView> {
    return toProfileView(await this.find(this.prisma, idOrName));
  }

  async create(input: CreateProfileInput, audit?: AuditHook<ProfileView>): Promise<ProfileView> {
    return this.write(audit, async (tx) => {
      await this.assertNameFree(tx, input.name);
      // Column defaults apply first, so check the range on what will be stored.
      const probe = { voltageMin: input.voltageMin ?? 216.2, voltageMax: input.voltageMax ?? 243.8 };
      check(checkVoltageRange(probe.voltageMin, probe.voltageMax));
      if (input.isDefault)
        await tx.deviceProfile.updateMany({ where: { isDefault: true }, data: { isDefault: false } });
      return toProfileView(await tx.deviceProfile.create({ data: input, include: COUNT }));
    });
  }

  async update(idOrName: string, input: UpdateProfileInput, audit?: AuditHook<ProfileView>): Promise<ProfileView> {
    return this.write(audit, async (tx) => {
      const current = await this.find(tx, idOrName);
      if (input.name && input.name !== current.name) await this.assertNameFree(tx, input.name);
      check(checkVoltageRange(input.voltageMin ?? current.voltageMin, input.voltageMax ?? current.voltageMax));
      if (input.isDefault === false && current.isDefault)
        throw new AppError('CONFLICT', `profile "${current.name}" is the default: make another profile the default`);
      if (input.isDefault && !current.isDefault)
        await tx.deviceProfile.updateMany({ where: { isDefault: true }, data: { isDefault: false } });
      const updated = await tx.deviceProfile.update({ where: { id: current.id }, data: input, include: COUNT });
      // Devices with overrides must still have a sensible voltage window.
      const broken = await tx.device.findFirst({
        where: {
          profileId: current.id,
          OR: [{ voltageMin: { gte: updated.voltageMax } }, { voltageMax: { lte: updated.voltageMin } }],
        },
        select: { name: true },
      });
      if (broken)
        throw new AppError(
          'BAD_REQUEST',
          `voltage limits conflict with device ${broken.name}'s overrides; change its voltageMin/voltageMax first`,
        );
      return toProfileView(updated);
    });
  }

  async remove(idOrName: string, audit?: AuditHook<ProfileView>): Promise<ProfileView> {
    return this.write(audit, async (tx) => {
      const current = await this.find(tx, idOrName);
      if (current._count.devices > 0)
        throw new AppError(
          'CONFLICT',
          `profile "${current.name}" is used by ${current._count.devices} device(s); move them to another profile first`,
        );
      if (current.isDefault)
        throw new AppError(
          'CONFLICT',
          `profile "${current.name}" is the default: make another profile the default first`,
        );
      await tx.deviceProfile.delete({ where: { id: current.id } });
      return toProfileView(current);
    });
  }

  private async find(db: Pick<PrismaClient, 'deviceProfile'>, idOrName: string): Promise<ProfileRow> {
    const found =
      (isUuid(idOrName) ? await db.deviceProfile.findUnique({ where: { id: idOrName }, include: COUNT }) : null) ??
      (await db.deviceProfile.findUnique({ where: { name: idOrName }, include: COUNT }));
    if (!found) throw new AppError('NOT_FOUND', `no profile with id or name "${idOrName}"`);
    return found;
  }

  private async assertNameFree(db: Prisma.TransactionClient, name: string): Promise<void> {
    if (await db.deviceProfile.findUnique({ where: { name }, select: { id: true } }))
      throw new AppError('CONFLICT', `name: a profile named "${name}" already exists`);
  }

  /** One transaction, with the change's audit entry (`audit`) inside it. */
  private async write(
    audit: AuditHook<ProfileView> | undefined,
    fn: (tx: Prisma.TransactionClient) => Promise<ProfileView>,
  ): Promise<ProfileView> {
    try {
      return await this.prisma.$transaction(async (tx) => {
        const view = await fn(tx);
        await audit?.(prismaExec(tx), view);
        return view;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('CONFLICT', 'a profile with that name already exists');
      throw err;
    }
  }
}

function check(errors: FieldError[]): void {
  if (errors.length) throw new AppError('BAD_REQUEST', formatFieldErrors(errors), { errors });
}
