/**
 * Matrix rows (authz-matrix.test.ts) for provisioning and claiming: an operator claims a
 * device of their regions with the secret of its claim request (South devices are hidden
 * from North-scoped callers); a profile's provisioning settings are fleet-wide (scoped
 * callers refused). The device-facing /api/v1/provision is public (PUBLIC's /api/v1/ entry).
 */
import { hashSecret } from '@spms/credentials';
import type { FastifyInstance } from 'fastify';
import { adminAuth } from '../routes/users/access-fixtures.js';
import { type Fixtures, type Region, type Row, unique } from './authz-fixtures.js';

const SECRET = 'matrix-claim-secret';

export function provisioningRows(f: Fixtures, getApp: () => FastifyInstance): Row[] {
  // A pending claim request of the cell's fresh device.
  const claimable = async (_region: Region, dev: string): Promise<string> => {
    const id = await f.deviceId(dev);
    await getApp().pg.query(
      `INSERT INTO device_claims (device_id, secret_hash, expires_at) VALUES ($1, $2, now() + interval '1 hour')`,
      [id, await hashSecret(SECRET, 'supplied')],
    );
    return id;
  };
  const profile = async (): Promise<string> => {
    const res = await getApp().inject({
      method: 'POST',
      url: '/api/profiles',
      headers: adminAuth,
      payload: { name: unique('prov') },
    });
    if (res.statusCode !== 201) throw new Error(`POST /api/profiles: ${res.statusCode} ${res.body}`);
    return res.json().id as string;
  };
  const claim = (target: Region): Row => ({
    name: `claim device (${target})`,
    method: 'POST',
    role: 'operator',
    target,
    fresh: true,
    entity: claimable,
    url: (c) => `/api/devices/${c.dev}/claim`,
    body: () => ({ secretKey: SECRET, customer: 'Claimers' }),
  });
  return [
    claim('North'),
    claim('South'),
    {
      name: 'set profile provisioning',
      method: 'PATCH',
      role: 'operator',
      scopedForbidden: true,
      entity: () => profile(),
      url: (c) => `/api/profiles/${c.id}`,
      body: () => ({
        provisioning: { strategy: 'allow_create', key: unique('matrix-key'), secret: 'matrix-provision-secret' },
      }),
    },
  ];
}
