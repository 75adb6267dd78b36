/**
 * spms firmware upload|list|show|delete|assign — firmware images for updates over the air.
 * `upload` streams the file (read twice when the checksum is computed here: once for the
 * checksum, once for the upload; never held whole); the API verifies the checksum again.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import type { Context } from '../context.js';
import { CliError, EXIT, usageError } from '../errors.js';
import { type Options, onePositional, parseFlags, str } from '../flags.js';
import { formatFields, formatTable, printJson } from '../output.js';

interface FirmwareOut {
  id: string;
  title: string;
  version: string;
  size: number;
  checksum: string;
  checksumAlgorithm: string;
  sha256: string;
  description: string | null;
  createdBy: string | null;
  createdAt: string;
  assigned?: {
    profiles: { id: string; name: string }[];
    devices: number;
    targetDevices: number;
    activeRollouts: number;
  };
}

const ALGORITHMS = ['SHA256', 'SHA384', 'SHA512', 'MD5', 'CRC32'];

const OPTIONS: Record<string, Options> = {
  upload: {
    title: { type: 'string' },
    version: { type: 'string' },
    algorithm: { type: 'string' },
    checksum: { type: 'string' },
    description: { type: 'string' },
  },
  list: { title: { type: 'string' }, limit: { type: 'string' }, offset: { type: 'string' } },
  assign: { device: { type: 'string' }, profile: { type: 'string' } },
};

/** The file's checksum as the API stores it (CRC32: ThingsBoard's byte order, least significant first). */
async function checksumOfFile(file: string, algorithm: string): Promise<string> {
  if (algorithm === 'CRC32') {
    let value = 0;
    for await (const chunk of createReadStream(file)) value = crc32(chunk as Buffer, value);
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value >>> 0);
    return b.toString('hex');
  }
  const hash = createHash(algorithm.toLowerCase());
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function fileSize(file: string): Promise<number> {
  try {
    const s = await stat(file);
    if (!s.isFile()) throw usageError(`${file} is not a file`);
    return s.size;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw usageError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

const formatFirmware = (f: FirmwareOut) =>
  formatFields(
    Object.entries(f).map(([k, v]): [string, unknown] =>
      k === 'assigned' && f.assigned
        ? [
            k,
            `profiles ${f.assigned.profiles.map((p) => p.name).join(', ') || '-'}; devices ${f.assigned.devices} ` +
              `(target of ${f.assigned.targetDevices}); active rollouts ${f.assigned.activeRollouts}`,
          ]
        : [k, v],
    ),
  );

const path = (id: string) => `api/firmware/${encodeURIComponent(id)}`;

export async function firmwareCommand(ctx: Context, sub: string | undefined, args: string[]): Promise<void> {
  const { client, io } = ctx;
  const show = (f: FirmwareOut) => (ctx.json ? printJson(io, f) : io.out(formatFirmware(f)));
  const { values, positionals } = parseFlags(args, OPTIONS[sub ?? ''] ?? {});
  switch (sub) {
    case 'upload': {
      const file = onePositional(positionals, 'image file');
      const title = str(values, 'title');
      const version = str(values, 'version');
      if (!title || !version) throw usageError('upload needs --title and --version');
      const algorithm = (str(values, 'algorithm') ?? 'SHA256').toUpperCase();
      if (!ALGORITHMS.includes(algorithm)) throw usageError(`--algorithm must be one of ${ALGORITHMS.join(', ')}`);
      const length = await fileSize(file);
      const checksum = str(values, 'checksum') ?? (await checksumOfFile(file, algorithm));
      const body = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
      const stored = await client.request<FirmwareOut>('POST', 'api/firmware', {
        query: { title, version, checksumAlgorithm: algorithm, checksum, description: str(values, 'description') },
        stream: { body, contentType: 'application/octet-stream', length },
      });
      return ctx.json
        ? printJson(io, stored)
        : io.out(`uploaded ${stored.title} ${stored.version} (${stored.size} bytes): ${stored.id}`);
    }
    case 'list': {
      const list = await client.request<{ items: FirmwareOut[]; total: number }>('GET', 'api/firmware', {
        query: { title: str(values, 'title'), limit: str(values, 'limit'), offset: str(values, 'offset') },
      });
      if (ctx.json) return printJson(io, list);
      io.out(
        formatTable(list.items, [
          ['ID', (f) => f.id],
          ['TITLE', (f) => f.title],
          ['VERSION', (f) => f.version],
          ['SIZE', (f) => f.size],
          ['CHECKSUM', (f) => `${f.checksumAlgorithm} ${f.checksum}`],
          ['UPLOADED', (f) => f.createdAt],
        ]),
      );
      if (list.total > list.items.length) io.out(`(${list.items.length} of ${list.total}; use --offset)`);
      return;
    }
    case 'show':
    case 'get':
      return show(await client.request<FirmwareOut>('GET', path(onePositional(positionals, 'firmware id'))));
    case 'delete': {
      const f = await client.request<FirmwareOut>('DELETE', path(onePositional(positionals, 'firmware id')));
      return ctx.json ? printJson(io, f) : io.out(`deleted firmware ${f.title} ${f.version}`);
    }
    case 'assign': {
      const target = onePositional(positionals, 'firmware id (or "none")');
      const firmwareId = target === 'none' ? null : target;
      const device = str(values, 'device');
      const profile = str(values, 'profile');
      if ((device === undefined) === (profile === undefined))
        throw usageError('assign needs exactly one of --device <id|name> or --profile <id|name>');
      const url = device
        ? `api/devices/${encodeURIComponent(device)}`
        : `api/profiles/${encodeURIComponent(profile as string)}`;
      const res = await client.request<{ name: string }>('PATCH', url, { json: { firmwareId } });
      if (ctx.json) return printJson(io, res);
      return io.out(
        firmwareId
          ? `${device ? 'device' : 'profile'} ${res.name}: firmware ${firmwareId} assigned (pushed as fw_* attributes)`
          : `${device ? 'device' : 'profile'} ${res.name}: firmware assignment removed`,
      );
    }
    default:
      throw new CliError('usage: spms firmware upload|list|show|delete|assign (see spms --help)', EXIT.USAGE);
  }
}
