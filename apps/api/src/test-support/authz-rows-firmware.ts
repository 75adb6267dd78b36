/**
 * Matrix rows (authz-matrix.test.ts) for firmware: only admins upload and delete images;
 * every role lists and reads them (firmware is fleet-wide, not scoped); operators download
 * them. Assignment goes through the device and profile routes' rules: an operator assigns
 * firmware to a device of their regions (South devices hidden from North-scoped callers);
 * a profile's firmware is fleet-wide (scoped callers refused). The device-facing
 * /api/v1/<token>/firmware is public (PUBLIC's /api/v1/ entry).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { adminAuth } from '../routes/users/access-fixtures.js';
import type { Ctx, Fixtures, Region, Row } from './authz-fixtures.js';
import { unique } from './authz-fixtures.js';

/** A row whose request body is raw bytes (application/octet-stream). */
export type RawBodyRow = Row & { octet?: (c: Ctx) => Buffer };

const IMAGE = randomBytes(2048);
const SHA256 = createHash('sha256').update(IMAGE).digest('hex');
const uploadUrl = () =>
  `/api/firmware?title=${unique('matrix-fw')}&version=1.0&checksumAlgorithm=SHA256&checksum=${SHA256}`;

export function firmwareRows(f: Fixtures, getApp: () => FastifyInstance): RawBodyRow[] {
  const upload = async (): Promise<string> => {
    const res = await getApp().inject({
      method: 'POST',
      url: uploadUrl(),
      headers: { ...adminAuth, 'content-type': 'application/octet-stream' },
      payload: IMAGE,
    });
    if (res.statusCode !== 201) throw new Error(`POST /api/firmware: ${res.statusCode} ${res.body}`);
    return res.json().id as string;
  };
  let shared: string | undefined;
  const sharedFirmware = async () => {
    shared ??= await upload();
    return shared;
  };
  const assignToDevice = (target: Region): RawBodyRow => ({
    name: `assign firmware to a device (${target})`,
    method: 'PATCH',
    role: 'operator',
    target,
    fresh: true,
    entity: () => sharedFirmware(),
    url: (c) => `/api/devices/${c.dev}`,
    body: (c) => ({ firmwareId: c.id }),
  });
  return [
    {
      name: 'upload firmware',
      method: 'POST',
      role: 'admin',
      url: () => uploadUrl(),
      octet: () => IMAGE,
    },
    { name: 'list firmware', method: 'GET', role: 'viewer', url: () => '/api/firmware' },
    {
      name: 'show firmware',
      method: 'GET',
      role: 'viewer',
      entity: () => sharedFirmware(),
      url: (c) => `/api/firmware/${c.id}`,
    },
    {
      name: 'download a firmware image',
      method: 'GET',
      role: 'operator',
      entity: () => sharedFirmware(),
      url: (c) => `/api/firmware/${c.id}/image`,
    },
    {
      name: 'delete firmware',
      method: 'DELETE',
      role: 'admin',
      entity: () => upload(),
      url: (c) => `/api/firmware/${c.id}`,
    },
    assignToDevice('North'),
    assignToDevice('South'),
    {
      name: 'assign firmware to a profile',
      method: 'PATCH',
      role: 'operator',
      scopedForbidden: true,
      entity: async () => {
        await sharedFirmware();
        return f.profile();
      },
      url: (c) => `/api/profiles/${c.id}`,
      body: () => ({ firmwareId: shared }),
    },
  ];
}
