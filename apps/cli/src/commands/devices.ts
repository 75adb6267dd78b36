/** spms devices list|get|create|update|delete|import|claim */
import { readFile } from 'node:fs/promises';
import type { Context } from '../context.js';
import { CliError, usageError } from '../errors.js';
import { copyFlags, num, type Options, onePositional, parseFlags, str, type Values } from '../flags.js';
import { formatTable, printJson } from '../output.js';
import { credentialOptions, credentialsFromFlags } from './credential-flags.js';
import { type DeviceOut, deviceColumns, formatDevice, formatIssued } from './device-format.js';

const fieldOptions: Options = {
  label: { type: 'string' },
  region: { type: 'string' },
  customer: { type: 'string' },
  lat: { type: 'string' },
  lon: { type: 'string' },
  notes: { type: 'string' },
  'hardware-status': { type: 'string' },
  profile: { type: 'string' },
  line: { type: 'string', multiple: true },
  'inactivity-timeout': { type: 'string' },
  'momentary-threshold': { type: 'string' },
  'voltage-min': { type: 'string' },
  'voltage-max': { type: 'string' },
  'alert-debounce': { type: 'string' },
};

const FIELDS: [string, string, 'string' | 'number' | 'integer'][] = [
  ['label', 'label', 'string'],
  ['region', 'region', 'string'],
  ['customer', 'customer', 'string'],
  ['lat', 'latitude', 'number'],
  ['lon', 'longitude', 'number'],
  ['notes', 'notes', 'string'],
  ['profile', 'profile', 'string'],
  ['inactivity-timeout', 'inactivityTimeoutSec', 'integer'],
  ['momentary-threshold', 'momentaryThresholdSec', 'integer'],
  ['voltage-min', 'voltageMin', 'number'],
  ['voltage-max', 'voltageMax', 'number'],
  ['alert-debounce', 'alertDebounceSec', 'integer'],
];
const CLEARABLE = new Map(FIELDS.filter(([f]) => f !== 'profile').map(([flag, field]) => [flag, field]));

function deviceBody(values: Values): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  copyFlags(values, body, FIELDS);
  const hw = str(values, 'hardware-status');
  if (hw) body.hardwareStatus = hw.toUpperCase();
  const lines = (values.line as string[] | undefined) ?? [];
  if (lines.length) {
    const labels: Record<string, string> = {};
    for (const spec of lines) {
      const m = /^([1-8])=(.+)$/.exec(spec);
      if (!m?.[1] || !m[2]) throw usageError(`--line takes N=Label with N in 1..8, got "${spec}"`);
      labels[m[1]] = m[2];
    }
    body.lineLabels = labels;
  }
  for (const flag of (values.unset as string[] | undefined) ?? []) {
    const field = CLEARABLE.get(flag);
    if (!field) throw usageError(`--unset takes one of: ${[...CLEARABLE.keys()].join(', ')}`);
    body[field] = null;
  }
  return body;
}

/** The claim secret: --secret S, or --secret-env to read SPMS_CLAIM_SECRET (kept out of argv and shell history). */
function claimSecret(values: Values): string {
  const given = str(values, 'secret');
  if (values['secret-env']) {
    if (given !== undefined) throw usageError('give --secret or --secret-env, not both');
    const secret = process.env.SPMS_CLAIM_SECRET;
    if (!secret) throw usageError('--secret-env: set SPMS_CLAIM_SECRET to the secret the device sent');
    return secret;
  }
  if (!given) throw usageError('claim needs the secret the device sent: --secret S (or --secret-env)');
  return given;
}

const path = (idOrName: string) => `api/devices/${encodeURIComponent(idOrName)}`;

export async function devicesCommand(ctx: Context, sub: string | undefined, args: string[]): Promise<void> {
  const { client, io } = ctx;
  const show = (d: DeviceOut) =>
    ctx.json ? printJson(io, d) : io.out(formatDevice(d) + formatIssued(d.issuedCredentials));
  switch (sub) {
    case 'list': {
      const { values } = parseFlags(args, {
        region: { type: 'string' },
        customer: { type: 'string' },
        profile: { type: 'string' },
        search: { type: 'string' },
        limit: { type: 'string' },
        offset: { type: 'string' },
      });
      const query = {
        region: str(values, 'region'),
        customer: str(values, 'customer'),
        profile: str(values, 'profile'),
        search: str(values, 'search'),
        limit: num(values, 'limit', true),
        offset: num(values, 'offset', true),
      };
      const res = await client.request<{ items: DeviceOut[]; total: number }>('GET', 'api/devices', { query });
      if (ctx.json) return printJson(io, res);
      io.out(formatTable(res.items, deviceColumns));
      io.out(`${res.items.length} of ${res.total} device(s)`);
      return;
    }
    case 'get': {
      const { positionals } = parseFlags(args, {});
      return show(await client.request<DeviceOut>('GET', path(onePositional(positionals, 'device id or name'))));
    }
    case 'create': {
      const { values, positionals } = parseFlags(args, { ...fieldOptions, ...credentialOptions });
      const body = { name: onePositional(positionals, 'device name'), ...deviceBody(values) };
      const credentials = credentialsFromFlags(values);
      return show(
        await client.request<DeviceOut>('POST', 'api/devices', { json: credentials ? { ...body, credentials } : body }),
      );
    }
    case 'update': {
      const { values, positionals } = parseFlags(args, {
        ...fieldOptions,
        name: { type: 'string' },
        unset: { type: 'string', multiple: true },
      });
      const body = deviceBody(values);
      const rename = str(values, 'name');
      if (rename) body.name = rename;
      if (Object.keys(body).length === 0) throw usageError('nothing to update: give at least one field flag');
      return show(
        await client.request<DeviceOut>('PATCH', path(onePositional(positionals, 'device id or name')), { json: body }),
      );
    }
    case 'delete': {
      const { positionals } = parseFlags(args, {});
      const d = await client.request<DeviceOut>('DELETE', path(onePositional(positionals, 'device id or name')));
      return ctx.json ? printJson(io, d) : io.out(`deleted device ${d.name} (${d.id})`);
    }
    case 'import':
      return importCommand(ctx, args);
    case 'claim': {
      const { values, positionals } = parseFlags(args, {
        secret: { type: 'string' },
        'secret-env': { type: 'boolean' },
        customer: { type: 'string' },
      });
      const idOrName = onePositional(positionals, 'device id or name');
      const d = await client.request<DeviceOut>('POST', `${path(idOrName)}/claim`, {
        json: { secretKey: claimSecret(values), customer: str(values, 'customer') },
      });
      return ctx.json ? printJson(io, d) : io.out(`claimed device ${d.name} (${d.id}) for customer ${d.customer}`);
    }
    default:
      throw usageError('usage: spms devices list|get|create|update|delete|import|claim (see spms --help)');
  }
}

interface ImportOut {
  dryRun: boolean;
  count: number;
  devices: {
    row: number;
    id: string | null;
    name: string;
    profile: string;
    credentials: DeviceOut['credentials'];
    issuedCredentials?: Record<string, string | null>;
  }[];
}

async function importCommand(ctx: Context, args: string[]): Promise<void> {
  const { values, positionals } = parseFlags(args, { 'dry-run': { type: 'boolean' } });
  const file = onePositional(positionals, 'CSV file');
  let csv: string;
  try {
    csv = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const dryRun = values['dry-run'] === true;
  const res = await ctx.client.request<ImportOut>('POST', 'api/devices/import', { csv, query: { dryRun } });
  if (ctx.json) return printJson(ctx.io, res);
  ctx.io.out(
    formatTable(res.devices, [
      ['ROW', (d) => d.row],
      ['NAME', (d) => d.name],
      ['PROFILE', (d) => d.profile],
      ['CREDENTIALS', (d) => d.credentials?.type ?? 'none'],
      [
        'GENERATED',
        (d) =>
          d.issuedCredentials
            ? Object.entries(d.issuedCredentials)
                .filter(([k]) => k !== 'type')
                .map(([k, v]) => `${k}=${v}`)
                .join(' ')
            : '',
      ],
    ]),
  );
  ctx.io.out(
    dryRun ? `dry run: ${res.count} device(s) would be created; nothing was written` : `created ${res.count} device(s)`,
  );
  if (!dryRun && res.devices.some((d) => d.issuedCredentials))
    ctx.io.out('Generated credentials are shown only now and cannot be shown again: store them (tip: --json > file).');
}
