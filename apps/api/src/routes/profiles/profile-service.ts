/** Device profiles: defaults for a class of devices (each value overridable per device). */
import { hashSecret, type ProvisionStrategy, provisionSettingProblems } from '@spms/credentials';
import type { Prisma, PrismaClient, Transport } from '@spms/db';
import { type FirmwareTargetChange, setProfileFirmware } from '@spms/firmware';
import { AppError } from '../../core/errors.js';
import { type AuditHook, prismaExec } from '../audit/audit.js';
import { checkVoltageRange, type FieldError, formatFieldErrors } from '../devices/validation.js';
import { assertFirmwareExists, type OnFirmwareTargets, prismaQueryable } from '../firmware/firmware-assignment.js';
import { isUniqueViolation, isUuid } from './profile-ref.js';

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
  provisioning?: ProvisioningInput;
  /** Firmware every device of the profile runs unless it has its own; null: none. */
  firmwareId?: string | null;
}

/** ThingsBoard's device provisioning settings of a profile (the secret is write-only). */
export interface ProvisioningInput {
  strategy?: ProvisionStrategy;
  key?: string;
  secret?: string;
  deviceCredentials?: boolean;
  region?: string | null;
  customer?: string | null;
}
export interface ProvisioningView {
  strategy: ProvisionStrategy;
  key: string | null;
  hasSecret: boolean;
  deviceCredentials: boolean;
  region: string | null;
  customer: string | null;
}

type ProfileRow = Prisma.DeviceProfileGetPayload<{ include: { _count: { select: { devices: true } } } }>;

export function toProfileView(p: ProfileRow) {
  // The provisioning columns (secret hash included) never reach a view or the audit log
  // this way, whichever Prisma client is generated: readProvisioning builds their view.
  const { _count, createdAt, updatedAt, ...all } = p;
  const rest = Object.fromEntries(Object.entries(all).filter(([k]) => !k.startsWith('provision'))) as typeof all;
  return {
    ...rest,
    deviceCount: _count.devices,
    createdAt: createdAt.toISOString(),
    updatedAt: updatedAt.toISOString(),
  };
}
export type ProfileView = ReturnType<typeof toProfileView> & { provisioning?: ProvisioningView };

interface ProvisioningRow {
  provision_strategy: ProvisionStrategy;
  provision_key: string | null;
  has_secret: boolean;
  provision_device_credentials: boolean;
  provision_region: string | null;
  provision_customer: string | null;
}

type RawDb = Pick<PrismaClient, '$queryRawUnsafe' | '$executeRawUnsafe'>;

const PROVISIONING_COLUMNS = `id::text AS id, provision_strategy, provision_key,
  provision_secret_hash IS NOT NULL AS has_secret, provision_device_credentials, provision_region, provision_customer`;

/** Every profile's provisioning settings, by profile id. */
async function readAllProvisioning(db: RawDb): Promise<Map<string, ProvisioningView>> {
  const rows = await db.$queryRawUnsafe<(ProvisioningRow & { id: string })[]>(
    `SELECT ${PROVISIONING_COLUMNS} FROM device_profiles`,
  );
  return new Map(rows.map((r) => [r.id, provisioningView(r)]));
}

async function readProvisioning(db: RawDb, profileId: string): Promise<ProvisioningView> {
  const rows = await db.$queryRawUnsafe<ProvisioningRow[]>(
    `SELECT ${PROVISIONING_COLUMNS} FROM device_profiles WHERE id = $1::uuid`,
    profileId,
  );
  const r = rows[0];
  if (!r) throw new AppError('NOT_FOUND', 'profile not found');
  return provisioningView(r);
}

function provisioningView(r: ProvisioningRow): ProvisioningView {
  return {
    strategy: r.provision_strategy,
    key: r.provision_key,
    hasSecret: r.has_secret,
    deviceCredentials: r.provision_device_credentials,
    region: r.provision_region,
    customer: r.provision_customer,
  };
}

/** Applies a provisioning change (secret already hashed); 400/409 say what to fix. */
async function applyProvisioning(
  db: RawDb,
  profileId: string,
  input: ProvisioningInput,
  secretHash: string | undefined,
): Promise<void> {
  const current = await readProvisioning(db, profileId);
  const problems = provisionSettingProblems(input.key, input.secret);
  if (problems.length) throw new AppError('BAD_REQUEST', problems.join('; '));
  const next = {
    strategy: input.strategy ?? current.strategy,
    key: input.key ?? current.key,
    hasSecret: secretHash !== undefined || current.hasSecret,
    deviceCredentials: input.deviceCredentials ?? current.deviceCredentials,
    region: input.region === undefined ? current.region : input.region,
    customer: input.customer === undefined ? current.customer : input.customer,
  };
  if (next.strategy !== 'disabled' && (!next.key || !next.hasSecret))
    throw new AppError(
      'BAD_REQUEST',
      `provisioning: strategy ${next.strategy} needs a key and a secret (${!next.key ? 'set provisioning.key' : 'set provisioning.secret'})`,
    );
  if (next.key) {
    const taken = await db.$queryRawUnsafe<unknown[]>(
      'SELECT 1 FROM device_profiles WHERE provision_key = $1 AND id <> $2::uuid',
      next.key,
      profileId,
    );
    if (taken.length) throw new AppError('CONFLICT', 'provisioning.key: another profile uses this key; choose another');
  }
  await db.$executeRawUnsafe(
    `UPDATE device_profiles SET provision_strategy = $2, provision_key = $3,
            provision_secret_hash = COALESCE($4, provision_secret_hash), provision_device_credentials = $5,
            provision_region = $6, provision_customer = $7, updated_at = now()
      WHERE id = $1::uuid`,
    profileId,
    next.strategy,
    next.key,
    secretHash ?? null,
    next.deviceCredentials,
    next.region,
    next.customer,
  );
}

const COUNT = { _count: { select: { devices: true } } } as const;

export class ProfileService {
  constructor(
    private readonly prisma: PrismaClient,
    /** After a commit that changed devices' firmware targets (the API pushes the fw_* attributes). */
    private readonly onFirmwareTargets: OnFirmwareTargets = () => {},
  ) {}

  async list(): Promise<ProfileView[]> {
    const rows = await this.prisma.deviceProfile.findMany({ include: COUNT, orderBy: { name: 'asc' } });
    const provisioning = await readAllProvisioning(this.prisma);
    return rows.map((r) => {
      const view: ProfileView = toProfileView(r);
      const p = provisioning.get(r.id);
      return p ? { ...view, provisioning: p } : view;
    });
  }

  async get(idOrName: string): Promise<ProfileView> {
    const found = await this.find(this.prisma, idOrName);
    return { ...toProfileView(found), provisioning: await readProvisioning(this.prisma, found.id) };
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
    const { provisioning, firmwareId, ...fields } = input;
    // scrypt before the transaction, so the transaction stays short.
    const secretHash = provisioning?.secret ? await hashSecret(provisioning.secret, 'supplied') : undefined;
    let firmwareChanges: FirmwareTargetChange[] = [];
    const view = await this.write(audit, async (tx) => {
      const current = await this.find(tx, idOrName);
      if (provisioning) await applyProvisioning(tx, current.id, provisioning, secretHash);
      if (input.name && input.name !== current.name) await this.assertNameFree(tx, input.name);
      check(checkVoltageRange(input.voltageMin ?? current.voltageMin, input.voltageMax ?? current.voltageMax));
      if (input.isDefault === false && current.isDefault)
        throw new AppError('CONFLICT', `profile "${current.name}" is the default: make another profile the default`);
      if (input.isDefault && !current.isDefault)
        await tx.deviceProfile.updateMany({ where: { isDefault: true }, data: { isDefault: false } });
      const updated = await tx.deviceProfile.update({ where: { id: current.id }, data: fields, include: COUNT });
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
      if (firmwareId !== undefined) {
        // Set-based: every device following the profile gets its fw_* attributes in this transaction.
        await assertFirmwareExists(tx, firmwareId);
        firmwareChanges = (await setProfileFirmware(prismaQueryable(tx), current.id, firmwareId)) ?? [];
        return { ...toProfileView({ ...updated, firmwareId }), provisioning: await readProvisioning(tx, current.id) };
      }
      return { ...toProfileView(updated), provisioning: await readProvisioning(tx, current.id) };
    });
    if (firmwareChanges.length) await this.onFirmwareTargets(firmwareChanges);
    return view;
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
