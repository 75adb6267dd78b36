/**
 * The device registry: devices, their 8 lines and their credentials. Every write is one
 * Prisma transaction, so a rejected request leaves nothing half-written. Callers learn
 * about credential changes through `onCredentialsChanged` (the API publishes them on
 * Redis so gateways drop the live session).
 * Every method takes the caller's scope (null = whole fleet): a device outside it is
 * answered 404, exactly like a missing one, and is never listed; creating or moving a
 * device outside it is 403.
 */
import type { HardwareStatus, Prisma, PrismaClient } from '@spms/db';
import { type FirmwareTargetChange, refreshFirmwareTargets, setDeviceFirmware } from '@spms/firmware';
import { AppError } from '../../core/errors.js';
import type { Scope } from '../../core/principal.js';
import { inScope } from '../../core/scope.js';
import { type AuditHook, prismaExec } from '../audit/audit.js';
import { assertFirmwareExists, type OnFirmwareTargets, prismaQueryable } from '../firmware/firmware-assignment.js';
import { isUniqueViolation, isUuid, resolveProfile } from '../profiles/profile-ref.js';
import {
  assertNoShadowing,
  type CredentialsRequest,
  type IssuedCredentials,
  type PreparedCredentials,
  prepareCredentials,
} from './credentials-request.js';
import { assertCredentialsUnused, assertNameFree } from './device-conflicts.js';
import { DEVICE_INCLUDE, type DeviceRecord, type DeviceView, toDeviceView } from './device-view.js';
import { type LineLabelsInput, resolveLineLabels } from './lines.js';
import {
  checkCoordinates,
  checkDeviceName,
  checkSettings,
  checkVoltageRange,
  type FieldError,
  formatFieldErrors,
  type Overrides,
} from './validation.js';

export interface DeviceFields extends Overrides {
  label?: string | null;
  region?: string | null;
  customer?: string | null;
  latitude?: number | null;
  longitude?: number | null;
  notes?: string | null;
  hardwareStatus?: HardwareStatus;
}

export interface CreateDeviceInput extends DeviceFields {
  name: string;
  profile?: string | null;
  lineLabels?: LineLabelsInput;
  credentials?: CredentialsRequest;
}

export interface UpdateDeviceInput extends DeviceFields {
  name?: string;
  profile?: string | null;
  lineLabels?: LineLabelsInput;
  /** The device's own firmware; null: its profile's. */
  firmwareId?: string | null;
}

export interface ListDevicesQuery {
  region?: string;
  customer?: string;
  profile?: string;
  search?: string;
  limit?: number;
  offset?: number;
}

export type DeviceWithIssued = DeviceView & { issuedCredentials?: IssuedCredentials };

export interface DeviceRegistryOptions {
  prisma: PrismaClient;
  onCredentialsChanged?: (deviceId: string) => Promise<void> | void;
  /** After a commit that changed devices' firmware targets (the API pushes the fw_* attributes). */
  onFirmwareTargets?: OnFirmwareTargets;
}

function fail(errors: FieldError[]): never {
  throw new AppError('BAD_REQUEST', formatFieldErrors(errors), { errors });
}

/** Checks a device's own fields (not the database); shared with the CSV import. */
export function checkDeviceFields(input: DeviceFields & { name?: string; lineLabels?: LineLabelsInput }) {
  const errors: FieldError[] = [];
  if (input.name !== undefined) errors.push(...checkDeviceName(input.name));
  errors.push(...checkCoordinates(input.latitude, input.longitude));
  errors.push(...checkSettings(input));
  const lines = resolveLineLabels(input.lineLabels);
  errors.push(...lines.errors);
  return { errors, labels: lines.labels };
}

export class DeviceRegistry {
  private readonly prisma: PrismaClient;
  private readonly notify: (deviceId: string) => Promise<void> | void;
  private readonly onFirmwareTargets: OnFirmwareTargets;

  constructor(opts: DeviceRegistryOptions) {
    this.prisma = opts.prisma;
    this.notify = opts.onCredentialsChanged ?? (() => {});
    this.onFirmwareTargets = opts.onFirmwareTargets ?? (() => {});
  }

  async list(q: ListDevicesQuery = {}, scope: Scope | null = null): Promise<{ items: DeviceView[]; total: number }> {
    const filters = {
      ...(q.region ? { region: q.region } : {}),
      ...(q.customer ? { customer: q.customer } : {}),
      ...(q.profile ? { profile: isUuid(q.profile) ? { id: q.profile } : { name: q.profile } } : {}),
      ...(q.search
        ? {
            OR: [
              { name: { contains: q.search, mode: 'insensitive' as const } },
              { label: { contains: q.search, mode: 'insensitive' as const } },
            ],
          }
        : {}),
    };
    const where = { AND: [filters, scopeWhere(scope)] };
    const [rows, total] = await this.prisma.$transaction([
      this.prisma.device.findMany({
        where,
        include: DEVICE_INCLUDE,
        orderBy: { name: 'asc' },
        take: q.limit ?? 100,
        skip: q.offset ?? 0,
      }),
      this.prisma.device.count({ where }),
    ]);
    return { items: rows.map(toDeviceView), total };
  }

  async get(idOrName: string, scope: Scope | null = null): Promise<DeviceView> {
    return toDeviceView(await this.find(this.prisma, idOrName, scope));
  }

  async create(
    input: CreateDeviceInput,
    scope: Scope | null = null,
    audit?: AuditHook<DeviceWithIssued>,
  ): Promise<DeviceWithIssued> {
    const { errors, labels } = checkDeviceFields(input);
    if (errors.length) fail(errors);
    assertPlaceInScope(scope, input.region ?? null, input.customer ?? null);
    // scrypt runs before the transaction so the transaction stays short.
    const creds = input.credentials ? await prepareCredentials(input.credentials, input.name) : undefined;
    const hook = inTx(audit, (d) => withIssued(d, creds));
    const device = await this.write(hook, async (tx) => {
      const profile = await resolveProfile(tx, input.profile);
      const range = checkVoltageRange(input.voltageMin ?? profile.voltageMin, input.voltageMax ?? profile.voltageMax);
      if (range.length) fail(range);
      // 409s name the other device only when it is in the caller's scope (device-conflicts.ts).
      await assertNameFree(tx, input.name, scope);
      if (creds) await assertCredentialsUnused(tx, creds.row.credentialsId, scope);
      if (creds) await assertNoShadowing(tx, creds, scope);
      const { profile: _p, lineLabels: _l, credentials: _c, ...fields } = input;
      const created = await tx.device.create({
        data: {
          ...fields,
          profileId: profile.id,
          lines: { create: labels.map((label, i) => ({ number: i + 1, label })) },
          ...(creds ? { credentials: { create: creds.row } } : {}),
        },
        include: DEVICE_INCLUDE,
      });
      // The profile's firmware, as fw_* attributes the device reads when it first connects.
      await refreshFirmwareTargets(prismaQueryable(tx), [created.id]);
      return created;
    });
    return withIssued(device, creds);
  }

  async update(
    idOrName: string,
    input: UpdateDeviceInput,
    scope: Scope | null = null,
    audit?: AuditHook<DeviceView>,
  ): Promise<DeviceView> {
    const { errors } = checkDeviceFields({ ...input, lineLabels: undefined });
    if (errors.length) fail(errors);
    let firmwareChanges: FirmwareTargetChange[] = [];
    const device = await this.write(inTx(audit, toDeviceView), async (tx) => {
      const current = await this.find(tx, idOrName, scope);
      const profile = input.profile !== undefined ? await resolveProfile(tx, input.profile) : current.profile;
      const merged = { ...current, ...stripUndefined(input) };
      assertPlaceInScope(scope, merged.region, merged.customer);
      const problems = [
        ...checkCoordinates(merged.latitude, merged.longitude),
        ...checkVoltageRange(merged.voltageMin ?? profile.voltageMin, merged.voltageMax ?? profile.voltageMax),
      ];
      const lines = resolveLineLabels(
        input.lineLabels,
        current.lines.map((l) => l.label),
      );
      problems.push(...lines.errors);
      if (problems.length) fail(problems);
      if (input.name && input.name !== current.name) await assertNameFree(tx, input.name, scope);
      const { profile: _p, lineLabels, firmwareId, ...fields } = input;
      if (lineLabels) {
        for (const [i, label] of lines.labels.entries()) {
          await tx.deviceLine.upsert({
            where: { deviceId_number: { deviceId: current.id, number: i + 1 } },
            create: { deviceId: current.id, number: i + 1, label },
            update: { label },
          });
        }
      }
      const updated = await tx.device.update({
        where: { id: current.id },
        data: { ...fields, profileId: profile.id },
        include: DEVICE_INCLUDE,
      });
      // Its firmware target (own, else the profile's) may have changed: the fw_* attributes follow.
      if (firmwareId !== undefined) await assertFirmwareExists(tx, firmwareId);
      if (firmwareId === undefined && profile.id === current.profileId) return updated;
      firmwareChanges =
        firmwareId !== undefined
          ? await setDeviceFirmware(prismaQueryable(tx), [current.id], firmwareId)
          : await refreshFirmwareTargets(prismaQueryable(tx), [current.id]);
      return this.find(tx, current.id);
    });
    if (firmwareChanges.length) await this.onFirmwareTargets(firmwareChanges);
    return toDeviceView(device);
  }

  async remove(idOrName: string, scope: Scope | null = null, audit?: AuditHook<DeviceView>): Promise<DeviceView> {
    const device = await this.write(inTx(audit, toDeviceView), async (tx) => {
      const current = await this.find(tx, idOrName, scope);
      await tx.device.delete({ where: { id: current.id } });
      return current;
    });
    await this.notify(device.id);
    return toDeviceView(device);
  }

  /** Replaces the device's credentials (supplied or generated); the old ones stop working. */
  async rotateCredentials(
    idOrName: string,
    req: CredentialsRequest,
    scope: Scope | null = null,
    audit?: AuditHook<DeviceWithIssued>,
  ): Promise<DeviceWithIssued> {
    const current = await this.find(this.prisma, idOrName, scope);
    const creds = await prepareCredentials(req, current.name);
    const hook = inTx(audit, (d) => withIssued(d, creds));
    const device = await this.write(hook, async (tx) => {
      await this.find(tx, current.id); // 404, not a foreign-key error, if deleted meanwhile
      await assertCredentialsUnused(tx, creds.row.credentialsId, scope, current.id);
      await assertNoShadowing(tx, creds, scope, current.id);
      await tx.deviceCredentials.upsert({
        where: { deviceId: current.id },
        create: { deviceId: current.id, ...creds.row },
        update: creds.row,
      });
      return this.find(tx, current.id);
    });
    await this.notify(device.id);
    return withIssued(device, creds);
  }

  async revokeCredentials(
    idOrName: string,
    scope: Scope | null = null,
    audit?: AuditHook<DeviceView>,
  ): Promise<DeviceView> {
    const device = await this.write(inTx(audit, toDeviceView), async (tx) => {
      const current = await this.find(tx, idOrName, scope);
      await tx.deviceCredentials.deleteMany({ where: { deviceId: current.id } });
      return this.find(tx, current.id);
    });
    await this.notify(device.id);
    return toDeviceView(device);
  }

  private async find(
    db: Pick<PrismaClient, 'device'>,
    idOrName: string,
    scope: Scope | null = null,
  ): Promise<DeviceRecord> {
    const found =
      (isUuid(idOrName) ? await db.device.findUnique({ where: { id: idOrName }, include: DEVICE_INCLUDE }) : null) ??
      (await db.device.findUnique({ where: { name: idOrName }, include: DEVICE_INCLUDE }));
    if (!found || !inScope(scope, found)) throw new AppError('NOT_FOUND', `no device with id or name "${idOrName}"`);
    return found;
  }

  /**
   * One transaction; a unique-key race lost to a concurrent writer becomes a 409. `audit`
   * writes the change's audit entry inside the same transaction.
   */
  private async write<T>(audit: TxHook<T> | undefined, fn: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
    try {
      return await this.prisma.$transaction(async (tx) => {
        const result = await fn(tx);
        await audit?.(tx, result);
        return result;
      });
    } catch (err) {
      if (isUniqueViolation(err))
        throw new AppError('CONFLICT', 'name or credentials already used by another device; retry with other values');
      throw err;
    }
  }
}

type TxHook<T> = (tx: Prisma.TransactionClient, result: T) => Promise<void>;

/** The audit hook of a write, given what the route sees of its result. */
function inTx<V>(audit: AuditHook<V> | undefined, view: (d: DeviceRecord) => V): TxHook<DeviceRecord> | undefined {
  return audit && ((tx, d) => audit(prismaExec(tx), view(d)));
}

function withIssued(device: DeviceRecord, creds: PreparedCredentials | undefined): DeviceWithIssued {
  const view: DeviceWithIssued = toDeviceView(device);
  if (creds?.issued) view.issuedCredentials = creds.issued;
  return view;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Prisma filter for a scope (same rule as core/scope.ts). */
function scopeWhere(scope: Scope | null): Prisma.DeviceWhereInput {
  if (!scope) return {};
  return {
    ...(scope.regions ? { region: { in: scope.regions } } : {}),
    ...(scope.customers ? { customer: { in: scope.customers } } : {}),
  };
}

/** 403 when a device would be placed (created or moved) outside the caller's scope. */
export function assertPlaceInScope(scope: Scope | null, region: string | null, customer: string | null): void {
  if (inScope(scope, { region, customer })) return;
  const which =
    scope?.regions && (region === null || !scope.regions.includes(region))
      ? `region: "${region ?? ''}" is outside your scope (${scope.regions.join(', ') || 'none'})`
      : `customer: "${customer ?? ''}" is outside your scope (${scope?.customers?.join(', ') || 'none'})`;
  throw new AppError('FORBIDDEN', which);
}
