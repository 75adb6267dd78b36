/** spms profiles list|get|create|update|delete */
import type { Context } from '../context.js';
import { usageError } from '../errors.js';
import { copyFlags, type Options, onePositional, parseFlags, str, type Values } from '../flags.js';
import { formatFields, formatTable, printJson } from '../output.js';

interface ProfileOut {
  id: string;
  name: string;
  description: string | null;
  transport: string;
  inactivityTimeoutSec: number;
  momentaryThresholdSec: number;
  voltageNominal: number;
  voltageMin: number;
  voltageMax: number;
  voltageHysteresis: number;
  alertDebounceSec: number;
  isDefault: boolean;
  deviceCount: number;
  provisioning?: {
    strategy: string;
    key: string | null;
    hasSecret: boolean;
    deviceCredentials: boolean;
    region: string | null;
    customer: string | null;
  };
}

const options: Options = {
  name: { type: 'string' },
  description: { type: 'string' },
  transport: { type: 'string' },
  'inactivity-timeout': { type: 'string' },
  'momentary-threshold': { type: 'string' },
  'voltage-nominal': { type: 'string' },
  'voltage-min': { type: 'string' },
  'voltage-max': { type: 'string' },
  'voltage-hysteresis': { type: 'string' },
  'alert-debounce': { type: 'string' },
  default: { type: 'boolean' },
  'provision-strategy': { type: 'string' },
  'provision-key': { type: 'string' },
  'provision-secret-env': { type: 'boolean' },
  'provision-device-credentials': { type: 'string' },
  'provision-region': { type: 'string' },
  'provision-customer': { type: 'string' },
};

/** --provision-* flags → `provisioning`; the secret only from SPMS_PROVISION_SECRET (never argv). */
function provisioningBody(values: Values): Record<string, unknown> | undefined {
  const p: Record<string, unknown> = {};
  copyFlags(values, p, [
    ['provision-strategy', 'strategy', 'string'],
    ['provision-key', 'key', 'string'],
    ['provision-region', 'region', 'string'],
    ['provision-customer', 'customer', 'string'],
  ]);
  const own = str(values, 'provision-device-credentials');
  if (own !== undefined) {
    if (own !== 'yes' && own !== 'no') throw usageError('--provision-device-credentials must be yes or no');
    p.deviceCredentials = own === 'yes';
  }
  if (values['provision-secret-env']) {
    const secret = process.env.SPMS_PROVISION_SECRET;
    if (!secret) throw usageError('--provision-secret-env: set SPMS_PROVISION_SECRET to the provision secret');
    p.secret = secret;
  }
  return Object.keys(p).length ? p : undefined;
}

function profileBody(values: Values): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  copyFlags(values, body, [
    ['name', 'name', 'string'],
    ['description', 'description', 'string'],
    ['inactivity-timeout', 'inactivityTimeoutSec', 'integer'],
    ['momentary-threshold', 'momentaryThresholdSec', 'integer'],
    ['voltage-nominal', 'voltageNominal', 'number'],
    ['voltage-min', 'voltageMin', 'number'],
    ['voltage-max', 'voltageMax', 'number'],
    ['voltage-hysteresis', 'voltageHysteresis', 'number'],
    ['alert-debounce', 'alertDebounceSec', 'integer'],
  ]);
  const transport = str(values, 'transport');
  if (transport) body.transport = transport.toUpperCase();
  if (values.default) body.isDefault = true;
  const provisioning = provisioningBody(values);
  if (provisioning) body.provisioning = provisioning;
  return body;
}

const path = (idOrName: string) => `api/profiles/${encodeURIComponent(idOrName)}`;

const formatProvisioning = (v: ProfileOut['provisioning']) =>
  !v || v.strategy === 'disabled'
    ? 'disabled'
    : `${v.strategy} (key ${v.key ?? '-'}, secret ${v.hasSecret ? 'set' : 'not set'}, device credentials ${v.deviceCredentials ? 'allowed' : 'refused'}, region ${v.region ?? '-'}, customer ${v.customer ?? '-'})`;

const formatProfile = (p: ProfileOut) =>
  formatFields(
    Object.entries(p)
      .filter(([k]) => !['createdAt', 'updatedAt'].includes(k))
      .map(([k, v]): [string, unknown] => (k === 'provisioning' ? [k, formatProvisioning(p.provisioning)] : [k, v])),
  );

export async function profilesCommand(ctx: Context, sub: string | undefined, args: string[]): Promise<void> {
  const { client, io } = ctx;
  const show = (p: ProfileOut) => (ctx.json ? printJson(io, p) : io.out(formatProfile(p)));
  const { values, positionals } = parseFlags(args, sub === 'create' || sub === 'update' ? options : {});
  switch (sub) {
    case 'list': {
      const list = await client.request<ProfileOut[]>('GET', 'api/profiles');
      if (ctx.json) return printJson(io, list);
      return io.out(
        formatTable(list, [
          ['NAME', (p) => `${p.name}${p.isDefault ? ' (default)' : ''}`],
          ['TRANSPORT', (p) => p.transport],
          ['INACTIVE_AFTER_S', (p) => p.inactivityTimeoutSec],
          ['MOMENTARY_S', (p) => p.momentaryThresholdSec],
          ['VOLTAGE', (p) => `${p.voltageMin}-${p.voltageMax}`],
          ['DEBOUNCE_S', (p) => p.alertDebounceSec],
          ['DEVICES', (p) => p.deviceCount],
        ]),
      );
    }
    case 'get':
      return show(await client.request<ProfileOut>('GET', path(onePositional(positionals, 'profile id or name'))));
    case 'create': {
      const body = { ...profileBody(values), name: onePositional(positionals, 'profile name') };
      return show(await client.request<ProfileOut>('POST', 'api/profiles', { json: body }));
    }
    case 'update': {
      const body = profileBody(values);
      if (Object.keys(body).length === 0) throw usageError('nothing to update: give at least one flag');
      return show(
        await client.request<ProfileOut>('PATCH', path(onePositional(positionals, 'profile id or name')), {
          json: body,
        }),
      );
    }
    case 'delete': {
      const p = await client.request<ProfileOut>('DELETE', path(onePositional(positionals, 'profile id or name')));
      return ctx.json ? printJson(io, p) : io.out(`deleted profile ${p.name}`);
    }
    default:
      throw usageError('usage: spms profiles list|get|create|update|delete (see spms --help)');
  }
}
