/**
 * `GET /:token/attributes?clientKeys=a,b&sharedKeys=c` → `{"client":{...},"shared":{...}}`
 * from device_attributes. Without either parameter both scopes come back whole; with
 * one, only that scope (as ThingsBoard does). A scope that was asked for is always
 * present, `{}` when empty, so firmware can index into it without a check.
 */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../core/errors.js';
import { readAttributes, splitKeys } from './attributes.js';
import { authenticateToken } from './gateway.js';
import { type TokenParams, tokenParams } from './ingest-routes.js';

export async function attributeRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Params: TokenParams; Querystring: { clientKeys?: string; sharedKeys?: string } }>(
    '/:token/attributes',
    {
      schema: {
        params: tokenParams,
        querystring: {
          type: 'object',
          properties: { clientKeys: { type: 'string' }, sharedKeys: { type: 'string' } },
        },
      },
    },
    async (req) => {
      const device = await authenticateToken(app, req.params.token);
      const client = splitKeys(req.query.clientKeys);
      const shared = splitKeys(req.query.sharedKeys);
      const all = client === null && shared === null;
      try {
        const out: { client?: object; shared?: object } = {};
        if (all || client !== null) out.client = await readAttributes(app.pg, device.id, 'client', client);
        if (all || shared !== null) out.shared = await readAttributes(app.pg, device.id, 'shared', shared);
        return out;
      } catch (err) {
        req.log.error({ err }, 'attribute read failed');
        throw new AppError('UNAVAILABLE', 'attribute store unavailable; retry later');
      }
    },
  );
}
