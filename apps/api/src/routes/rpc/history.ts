/**
 * `GET /api/devices/{idOrName}/rpc` (viewer and up, in scope): the device's persistent RPCs,
 * newest first, `?status=` to filter, `?limit=&cursor=` to page (nextCursor is the last
 * request id of the page; request ids grow with time).
 */
import { RPC_COLUMNS } from '@spms/device-auth';
import type { FastifyInstance } from 'fastify';
import type { Static } from 'typebox';
import { resolveDevice } from '../device-commands/resolve-device.js';
import { DeviceRefParams } from '../device-commands/schemas.js';
import { errorResponses } from '../error-schema.js';
import { RpcListQuery, RpcListReply } from './schemas.js';

export function registerRpcHistory(app: FastifyInstance): void {
  app.get<{ Params: Static<typeof DeviceRefParams>; Querystring: Static<typeof RpcListQuery> }>(
    '/:idOrName/rpc',
    {
      schema: {
        params: DeviceRefParams,
        querystring: RpcListQuery,
        response: { 200: RpcListReply, ...errorResponses },
      },
    },
    async (req) => {
      const device = await resolveDevice(app.pg, req.params.idOrName, req.principal?.scope ?? null);
      const limit = req.query.limit ?? 50;
      const { rows } = await app.pg.query(
        `SELECT ${RPC_COLUMNS}, $5::text AS "deviceName" FROM device_rpc
          WHERE device_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::int IS NULL OR request_id < $3)
          ORDER BY request_id DESC LIMIT $4`,
        [device.id, req.query.status ?? null, req.query.cursor ?? null, limit + 1, device.name],
      );
      const more = rows.length > limit;
      const items = more ? rows.slice(0, limit) : rows;
      return { items, nextCursor: more ? String(items[items.length - 1]?.requestId) : null };
    },
  );
}
