/**
 * Matrix rows (authz-matrix.test.ts) for persistent RPC (docs/rpc.md): a device's RPC
 * history and an RPC's state are readable by viewers in scope; sending a persistent RPC and
 * cancelling a queued one need an operator in scope. South devices' RPCs are hidden from
 * North-scoped callers (404, as the devices are).
 */
import { createPersistentRpc } from '@spms/device-auth';
import type { FastifyInstance } from 'fastify';
import type { Fixtures, Region, Row } from './authz-fixtures.js';

export function rpcRows(f: Fixtures, getApp: () => FastifyInstance): Row[] {
  // A QUEUED persistent RPC of the cell's device (its id goes in Ctx.id).
  const queued = async (_region: Region, dev: string): Promise<string> => {
    const rpc = await createPersistentRpc(getApp().pg, {
      deviceId: await f.deviceId(dev),
      method: 'matrix',
      params: {},
      oneway: false,
      retries: 0,
      timeoutMs: 10_000,
      expirationTime: Date.now() + 3_600_000,
      additionalInfo: null,
      createdBy: null,
    });
    return rpc.id;
  };
  return (['North', 'South'] as const).flatMap((target): Row[] => [
    {
      name: `persistent rpc (${target})`,
      method: 'POST',
      role: 'operator',
      target,
      url: (c) => `/api/devices/${c.dev}/rpc`,
      body: () => ({ method: 'ping', persistent: true, expirationTime: Date.now() + 60_000 }),
    },
    { name: `rpc history (${target})`, method: 'GET', role: 'viewer', target, url: (c) => `/api/devices/${c.dev}/rpc` },
    {
      name: `rpc state (${target})`,
      method: 'GET',
      role: 'viewer',
      target,
      entity: queued,
      url: (c) => `/api/rpc/${c.id}`,
    },
    {
      name: `cancel rpc (${target})`,
      method: 'DELETE',
      role: 'operator',
      target,
      entity: queued,
      url: (c) => `/api/rpc/${c.id}`,
    },
  ]);
}
