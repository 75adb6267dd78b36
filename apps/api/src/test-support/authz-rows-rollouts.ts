/**
 * Matrix rows (authz-matrix.test.ts) for staged firmware rollouts: everyone reads the
 * rollouts wholly inside their scope (a South device's rollout is hidden from North-scoped
 * callers); operators create, pause, resume and cancel them in their scope — a device outside
 * it is hidden (404), a region outside it refused (403).
 */
import type { FastifyInstance } from 'fastify';
import { adminAuth } from '../routes/users/access-fixtures.js';
import { type Region, type Row, unique } from './authz-fixtures.js';

export function rolloutRows(getApp: () => FastifyInstance): Row[] {
  let firmware: Promise<string> | undefined;
  const firmwareId = () => {
    firmware ??= getApp()
      .pg.query<{ id: string }>(
        `INSERT INTO firmware (title, version, size, checksum_algorithm, checksum, sha256, data_oid)
         VALUES ('matrix', '1.0', 1, 'SHA256', 'abc', 'abc', lo_from_bytea(0, '\\x01')) RETURNING id`,
      )
      .then((r) => r.rows[0]?.id as string);
    return firmware;
  };
  const body = async (scope: object) => ({
    firmwareId: await firmwareId(),
    scope,
    waves: [100],
    maxConcurrent: 1,
    failureThreshold: 0.5,
  });
  // A running rollout of the cell's fresh device (created by the admin).
  const rollout = async (_region: Region, dev: string): Promise<string> => {
    const res = await getApp().inject({
      method: 'POST',
      url: '/api/rollouts',
      headers: adminAuth,
      payload: await body({ devices: [dev] }),
    });
    if (res.statusCode !== 201) throw new Error(`POST /api/rollouts: ${res.statusCode} ${res.body}`);
    return res.json().id as string;
  };
  let fw = '';
  const withFirmware = async () => {
    fw = await firmwareId();
    return '';
  };
  const read = (target: Region): Row => ({
    name: `get rollout (${target})`,
    method: 'GET',
    role: 'viewer',
    target,
    fresh: true,
    entity: rollout,
    url: (c) => `/api/rollouts/${c.id}`,
  });
  const create = (target: Region): Row => ({
    name: `create rollout of a device (${target})`,
    method: 'POST',
    role: 'operator',
    target,
    fresh: true,
    entity: withFirmware,
    url: () => '/api/rollouts',
    body: (c) => ({ firmwareId: fw, scope: { devices: [c.dev] }, waves: [100], maxConcurrent: 1, failureThreshold: 0 }),
  });
  const action = (name: 'pause' | 'resume' | 'cancel', target: Region): Row => ({
    name: `${name} rollout (${target})`,
    method: 'POST',
    role: 'operator',
    target,
    fresh: true,
    entity: rollout,
    url: (c) => `/api/rollouts/${c.id}/${name}`,
  });
  return [
    { name: 'list rollouts', method: 'GET', role: 'viewer', url: () => '/api/rollouts' },
    read('North'),
    read('South'),
    create('North'),
    create('South'),
    {
      name: 'create rollout of a region outside the scope',
      method: 'POST',
      role: 'operator',
      scopedForbidden: true,
      // A South device of its own customer: the rollout takes only it.
      entity: async () => {
        const customer = unique('rollout-customer');
        const res = await getApp().inject({
          method: 'POST',
          url: '/api/devices',
          headers: adminAuth,
          payload: { name: unique('MR'), region: 'South', customer },
        });
        if (res.statusCode !== 201) throw new Error(`POST /api/devices: ${res.statusCode} ${res.body}`);
        fw = await firmwareId();
        return customer;
      },
      url: () => '/api/rollouts',
      body: (c) => ({
        firmwareId: fw,
        scope: { region: 'South', customer: c.id },
        waves: [100],
        maxConcurrent: 1,
        failureThreshold: 0,
      }),
    },
    action('pause', 'North'),
    action('pause', 'South'),
    action('resume', 'North'),
    action('cancel', 'North'),
    action('cancel', 'South'),
  ];
}
