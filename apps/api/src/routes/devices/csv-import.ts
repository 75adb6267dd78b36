/**
 * CSV fleet import, step 2: validate every row (fields, profiles, names and credentials,
 * against the file itself and the database), then create everything in ONE transaction —
 * or nothing, when any row has a problem or `dryRun` is set.
 */
import { randomUUID } from 'node:crypto';
import type { PrismaClient } from '@spms/db';
import { refreshFirmwareTargets } from '@spms/firmware';
import { AppError } from '../../core/errors.js';
import type { Scope } from '../../core/principal.js';
import { inScope } from '../../core/scope.js';
import { type AuditHook, prismaExec } from '../audit/audit.js';
import { prismaQueryable } from '../firmware/firmware-assignment.js';
import { isUniqueViolation } from '../profiles/profile-ref.js';
import {
  describeCredentials,
  type IssuedCredentials,
  type PreparedCredentials,
  prepareCredentials,
} from './credentials-request.js';
import { parseDeviceCsv, type RowError } from './csv-rows.js';
import { HIDDEN_CONFLICT } from './device-conflicts.js';
import { checkDeviceFields } from './device-registry.js';
import { hashImportPasswords } from './import-hashing.js';
import { checkVoltageRange } from './validation.js';

export interface ImportedDevice {
  row: number;
  id: string | null;
  name: string;
  profile: string;
  credentials: ReturnType<typeof describeCredentials>;
  issuedCredentials?: IssuedCredentials;
  /** e.g. a supplied token or password shorter than new credentials need. */
  warnings?: string[];
}

export interface ImportResult {
  dryRun: boolean;
  count: number;
  devices: ImportedDevice[];
}

// Which CSV column a credentials validation message is about.
function credentialsColumn(message: string): string {
  if (/password/.test(message)) return 'password';
  if (/access token/.test(message)) return 'token';
  if (/client id/.test(message)) return 'client_id';
  if (/username/.test(message)) return 'username';
  return 'credentials_type';
}

const FIELD_TO_COLUMN: Record<string, string> = {
  inactivityTimeoutSec: 'inactivity_timeout_sec',
  momentaryThresholdSec: 'momentary_threshold_sec',
  voltageMin: 'voltage_min',
  voltageMax: 'voltage_max',
  alertDebounceSec: 'alert_debounce_sec',
  lineLabels: 'line_1..line_8',
};

export async function importDevicesCsv(
  prisma: PrismaClient,
  text: string,
  opts: {
    dryRun?: boolean;
    scope?: Scope | null;
    maxRows?: number;
    maxSuppliedPasswords?: number;
    /** Writes the import's audit entry in its transaction. */
    audit?: AuditHook<ImportResult>;
  } = {},
): Promise<ImportResult> {
  const parsed = parseDeviceCsv(text, opts.maxRows);
  const supplied = parsed.rows.filter((r) => r.input.credentials?.password).length;
  if (opts.maxSuppliedPasswords !== undefined && supplied > opts.maxSuppliedPasswords)
    throw new AppError(
      'PAYLOAD_TOO_LARGE',
      `import rejected, nothing was written: ${supplied} rows supply a password, at most ${opts.maxSuppliedPasswords} per import (each is hashed with scrypt); split the file`,
    );
  const errors: RowError[] = [...parsed.errors];
  const planned: { row: number; labels: string[]; creds?: PreparedCredentials }[] = [];
  const plan = async ({ row, input }: (typeof parsed.rows)[number]) => {
    const checked = checkDeviceFields(input);
    for (const e of checked.errors)
      errors.push({ row, column: FIELD_TO_COLUMN[e.field] ?? e.field, message: e.message });
    let creds: PreparedCredentials | undefined;
    if (input.credentials) {
      try {
        // Hashed below, once every row is valid (see import-hashing.ts).
        // Firmware credentials brought over with the fleet may be short: a warning, not a refusal.
        creds = await prepareCredentials(input.credentials, input.name, { hash: false, allowShortSecrets: true });
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        const message = err.message.replace(/^credentials: /, '');
        errors.push({ row, column: credentialsColumn(message), message });
      }
    }
    return { row, labels: checked.labels, ...(creds ? { creds } : {}) };
  };
  planned.push(...(await Promise.all(parsed.rows.map(plan))));

  const rows = parsed.rows;
  const profiles = await prisma.deviceProfile.findMany();
  const defaultProfile = profiles.find((p) => p.isDefault);
  const byRef = new Map(profiles.flatMap((p) => [[p.name, p] as const, [p.id, p] as const]));
  const names = rows.map((r) => r.input.name);
  const keys = planned.flatMap((p) => (p.creds ? [p.creds.row.credentialsId] : []));
  const [takenNames, takenKeys] = await Promise.all([
    prisma.device.findMany({ where: { name: { in: names } }, select: { name: true, region: true, customer: true } }),
    prisma.deviceCredentials.findMany({
      where: { credentialsId: { in: keys } },
      select: { credentialsId: true, device: { select: { name: true, region: true, customer: true } } },
    }),
  ]);
  const nameInDb = new Map(takenNames.map((d) => [d.name, d]));
  const keyInDb = new Map(takenKeys.map((k) => [k.credentialsId, k.device]));
  const seenNames = new Map<string, number>();
  const seenKeys = new Map<string, number>();
  const profileIds: string[] = [];
  rows.forEach(({ row, input }, i) => {
    const err = (column: string, message: string) => errors.push({ row, column, message });
    const profile = input.profile ? byRef.get(input.profile) : defaultProfile;
    if (!profile) err('profile', input.profile ? `unknown profile "${input.profile}"` : 'no default profile exists');
    else {
      profileIds[i] = profile.id;
      for (const e of checkVoltageRange(input.voltageMin ?? profile.voltageMin, input.voltageMax ?? profile.voltageMax))
        err(FIELD_TO_COLUMN[e.field] ?? e.field, e.message);
    }
    // A scoped operator imports only into their own regions/customers.
    if (!inScope(opts.scope, { region: input.region ?? null, customer: input.customer ?? null }))
      err(opts.scope?.regions ? 'region' : 'customer', 'outside your scope');
    // A device outside the caller's scope is never named, and a name clash reads exactly like
    // a credentials clash, so a dry run is no oracle for what exists elsewhere.
    const nameOwner = nameInDb.get(input.name);
    const key = planned[i]?.creds?.row.credentialsId;
    const keyOwner = key ? keyInDb.get(key) : undefined;
    const hidden = [nameOwner, keyOwner].some((d) => d && !inScope(opts.scope, d));
    if (hidden) err('name/credentials', HIDDEN_CONFLICT);
    else if (nameOwner) err('name', `a device named "${input.name}" already exists`);
    const dupRow = seenNames.get(input.name);
    if (dupRow !== undefined) err('name', `"${input.name}" is also on row ${dupRow}`);
    seenNames.set(input.name, row);
    if (key) {
      if (keyOwner && !hidden) err('credentials_type', `these credentials are already used by device ${keyOwner.name}`);
      const dupKey = seenKeys.get(key);
      if (dupKey !== undefined) err('credentials_type', `same credentials as row ${dupKey}`);
      seenKeys.set(key, row);
    }
  });

  if (errors.length) {
    errors.sort((a, b) => a.row - b.row);
    const shown = errors.slice(0, 5).map((e) => `row ${e.row}, ${e.column}: ${e.message}`);
    const more = errors.length > 5 ? ` (and ${errors.length - 5} more)` : '';
    throw new AppError('BAD_REQUEST', `import rejected, nothing was written: ${shown.join('; ')}${more}`, { errors });
  }

  const ids = rows.map(() => randomUUID());
  const result: ImportedDevice[] = rows.map(({ row, input }, i) => {
    const creds = planned[i]?.creds;
    const profile = profiles.find((p) => p.id === profileIds[i]);
    return {
      row,
      id: opts.dryRun ? null : (ids[i] as string),
      name: input.name,
      profile: profile?.name ?? '',
      credentials: describeCredentials(creds?.row ?? null),
      // A dry run creates nothing, so the secrets it generated will never be used.
      ...(!opts.dryRun && creds?.issued ? { issuedCredentials: creds.issued } : {}),
      ...(creds?.warnings ? { warnings: creds.warnings } : {}),
    };
  });
  if (opts.dryRun) return { dryRun: true, count: result.length, devices: result };

  // Every row is valid and this is a real import: only now pay for the hashes.
  const toHash = planned.flatMap((p, i) => {
    const issued = p.creds?.issued;
    if (!p.creds || p.creds.row.passwordHash === null) return [];
    const password =
      issued?.type === 'MQTT_BASIC' && issued.password
        ? { password: issued.password, origin: 'generated' as const }
        : { password: rows[i]?.input.credentials?.password as string, origin: 'supplied' as const };
    return [{ row: p.creds.row, ...password }];
  });
  const hashes = await hashImportPasswords(toHash);
  toHash.forEach((h, i) => {
    h.row.passwordHash = hashes[i] as string;
  });

  // Three bulk inserts instead of one nested create per device: a 1,000-device fleet
  // stays well inside the transaction timeout.
  try {
    await prisma.$transaction(
      async (tx) => {
        await tx.device.createMany({
          data: rows.map(({ input }, i) => {
            const { profile: _p, lineLabels: _l, credentials: _c, ...fields } = input;
            return { ...fields, id: ids[i] as string, profileId: profileIds[i] as string };
          }),
        });
        await tx.deviceLine.createMany({
          data: planned.flatMap((p, i) =>
            p.labels.map((label, n) => ({ deviceId: ids[i] as string, number: n + 1, label })),
          ),
        });
        const creds = planned.flatMap((p, i) => (p.creds ? [{ deviceId: ids[i] as string, ...p.creds.row }] : []));
        if (creds.length) await tx.deviceCredentials.createMany({ data: creds });
        // The profiles' firmware, as fw_* attributes the devices read when they first connect.
        await refreshFirmwareTargets(prismaQueryable(tx), ids);
        await opts.audit?.(prismaExec(tx), { dryRun: false, count: result.length, devices: result });
      },
      { timeout: 60_000 },
    );
  } catch (err) {
    // A concurrent writer took a name or credentials after our checks.
    if (isUniqueViolation(err))
      throw new AppError(
        'CONFLICT',
        'import rejected, nothing was written: a name or credentials were taken meanwhile; retry',
      );
    throw err;
  }
  return { dryRun: false, count: result.length, devices: result };
}
