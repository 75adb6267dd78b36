/** spms rollout create|list|show|pause|resume|cancel: staged firmware rollouts (docs/rollouts.md). */
import type { Context } from '../context.js';
import { usageError } from '../errors.js';
import { copyFlags, type Options, onePositional, parseFlags, str, type Values } from '../flags.js';
import { formatFields, formatTable, printJson } from '../output.js';

type Counts = Record<'pending' | 'assigned' | 'downloading' | 'updated' | 'failed' | 'skipped' | 'cancelled', number>;

interface RolloutOut {
  id: string;
  firmware: { id: string; title: string; version: string };
  scope: unknown;
  waves: number[];
  maxConcurrent: number;
  failureThreshold: number;
  successTimeoutSec: number | null;
  status: string;
  statusReason: string | null;
  currentWave: number;
  waveCount: number;
  devices: number;
  counts: Counts;
  createdBy: string | null;
  createdAt: string;
  finishedAt: string | null;
}

interface RolloutDetailOut extends RolloutOut {
  perWave: { wave: number; targetPercent: number; devices: number; counts: Counts; failureRate: number }[];
  perDevice: {
    total: number;
    items: {
      name: string;
      wave: number;
      state: string;
      assignedAt: string | null;
      finishedAt: string | null;
      error: string | null;
      reported: { version: string | null; state: string | null } | null;
    }[];
  };
}

const createOptions: Options = {
  firmware: { type: 'string' },
  region: { type: 'string' },
  customer: { type: 'string' },
  profile: { type: 'string' },
  device: { type: 'string', multiple: true },
  'rollback-of': { type: 'string' },
  waves: { type: 'string' },
  'max-concurrent': { type: 'string' },
  'failure-threshold': { type: 'string' },
  'success-timeout': { type: 'string' },
};
const showOptions: Options = {
  wave: { type: 'string' },
  state: { type: 'string' },
  limit: { type: 'string' },
  offset: { type: 'string' },
};
const listOptions: Options = { status: { type: 'string' }, limit: { type: 'string' }, offset: { type: 'string' } };

function need(values: Values, flag: string): string {
  const v = str(values, flag);
  if (v === undefined) throw usageError(`--${flag} is required (see spms --help)`);
  return v;
}

/** The flags of `rollout create` → the API's body (the API validates the values). */
export function createBody(values: Values): Record<string, unknown> {
  const waves = need(values, 'waves')
    .split(',')
    .map((w) => w.trim());
  if (waves.some((w) => !/^\d+$/.test(w)))
    throw usageError(
      `--waves: cumulative whole percentages separated by commas, e.g. 1,10,100 (got "${values.waves}")`,
    );
  const body: Record<string, unknown> = { firmwareId: need(values, 'firmware'), waves: waves.map(Number) };
  copyFlags(values, body, [
    ['max-concurrent', 'maxConcurrent', 'integer'],
    ['failure-threshold', 'failureThreshold', 'number'],
    ['success-timeout', 'successTimeoutSec', 'integer'],
  ]);
  for (const flag of ['max-concurrent', 'failure-threshold']) need(values, flag);
  const scope: Record<string, unknown> = {};
  copyFlags(values, scope, [
    ['region', 'region', 'string'],
    ['customer', 'customer', 'string'],
    ['profile', 'profile', 'string'],
  ]);
  const devices = values.device;
  if (Array.isArray(devices) && devices.length > 0) scope.devices = devices;
  const rollbackOf = str(values, 'rollback-of');
  if (rollbackOf !== undefined) {
    if (Object.keys(scope).length > 0)
      throw usageError(
        '--rollback-of takes the devices of that rollout: give no --region/--customer/--profile/--device',
      );
    body.rollbackOf = rollbackOf;
  } else body.scope = scope;
  return body;
}

const progress = (c: Counts, total: number) =>
  `${c.updated + c.skipped}/${total} done, ${c.assigned + c.downloading} in flight, ${c.failed} failed`;

function formatDetail(r: RolloutDetailOut): string {
  const head = formatFields([
    ['id', r.id],
    ['firmware', `${r.firmware.title} ${r.firmware.version} (${r.firmware.id})`],
    ['status', r.statusReason ? `${r.status}: ${r.statusReason}` : r.status],
    ['wave', `${r.currentWave} of ${r.waveCount}`],
    ['progress', progress(r.counts, r.devices)],
    ['maxConcurrent', r.maxConcurrent],
    ['failureThreshold', r.failureThreshold],
    ['successTimeoutSec', r.successTimeoutSec ?? 'three inactivity timeouts'],
    ['scope', JSON.stringify(r.scope)],
    ['createdBy', r.createdBy],
    ['createdAt', r.createdAt],
    ['finishedAt', r.finishedAt],
  ]);
  const waves = formatTable(r.perWave, [
    ['WAVE', (w) => w.wave],
    ['UP_TO_%', (w) => w.targetPercent],
    ['DEVICES', (w) => w.devices],
    ['PENDING', (w) => w.counts.pending],
    ['IN_FLIGHT', (w) => w.counts.assigned + w.counts.downloading],
    ['UPDATED', (w) => w.counts.updated],
    ['FAILED', (w) => w.counts.failed],
    ['SKIPPED', (w) => w.counts.skipped],
    ['CANCELLED', (w) => w.counts.cancelled],
    ['FAILURE_RATE', (w) => `${Math.round(w.failureRate * 1000) / 10} %`],
  ]);
  const devices = formatTable(r.perDevice.items, [
    ['DEVICE', (d) => d.name],
    ['WAVE', (d) => d.wave],
    ['STATE', (d) => d.state],
    ['REPORTED', (d) => (d.reported ? `${d.reported.version ?? '-'} ${d.reported.state ?? ''}`.trim() : '-')],
    ['ASSIGNED_AT', (d) => d.assignedAt ?? '-'],
    ['ERROR', (d) => d.error ?? ''],
  ]);
  const shown = r.perDevice.items.length;
  const more = r.perDevice.total > shown ? `\n(${shown} of ${r.perDevice.total} devices; use --limit/--offset)` : '';
  return `${head}\n\n${waves}\n\n${devices}${more}`;
}

export async function rolloutsCommand(ctx: Context, sub: string | undefined, args: string[]): Promise<void> {
  const { client, io } = ctx;
  const opts = sub === 'create' ? createOptions : sub === 'show' ? showOptions : sub === 'list' ? listOptions : {};
  const { values, positionals } = parseFlags(args, opts);
  const show = (r: RolloutDetailOut) => (ctx.json ? printJson(io, r) : io.out(formatDetail(r)));
  const path = (id: string) => `api/rollouts/${encodeURIComponent(id)}`;
  const query = (keys: string[]) => {
    const q = new URLSearchParams();
    for (const k of keys) {
      const v = str(values, k);
      if (v !== undefined) q.set(k, v);
    }
    return q.size ? `?${q}` : '';
  };
  switch (sub) {
    case 'create': {
      if (positionals.length > 0) throw usageError(`unexpected argument "${positionals[0]}"`);
      return show(await client.request<RolloutDetailOut>('POST', 'api/rollouts', { json: createBody(values) }));
    }
    case 'list': {
      const list = await client.request<{ items: RolloutOut[]; total: number }>(
        'GET',
        `api/rollouts${query(['status', 'limit', 'offset'])}`,
      );
      if (ctx.json) return printJson(io, list);
      return io.out(
        formatTable(list.items, [
          ['ID', (r) => r.id],
          ['FIRMWARE', (r) => `${r.firmware.title} ${r.firmware.version}`],
          ['STATUS', (r) => r.status],
          ['WAVE', (r) => `${r.currentWave}/${r.waveCount}`],
          ['PROGRESS', (r) => progress(r.counts, r.devices)],
          ['CREATED', (r) => r.createdAt],
          ['REASON', (r) => r.statusReason ?? ''],
        ]),
      );
    }
    case 'show': {
      const id = onePositional(positionals, 'rollout id');
      return show(
        await client.request<RolloutDetailOut>('GET', `${path(id)}${query(['wave', 'state', 'limit', 'offset'])}`),
      );
    }
    case 'pause':
    case 'resume':
    case 'cancel': {
      const id = onePositional(positionals, 'rollout id');
      const r = await client.request<RolloutOut>('POST', `${path(id)}/${sub}`);
      if (ctx.json) return printJson(io, r);
      return io.out(`rollout ${r.id}: ${r.status}${r.statusReason ? ` (${r.statusReason})` : ''}`);
    }
    default:
      throw usageError('usage: spms rollout create|list|show|pause|resume|cancel (see spms --help)');
  }
}
