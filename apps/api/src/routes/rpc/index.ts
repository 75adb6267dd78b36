/**
 * Persistent RPC by id, under /api/rpc (docs/rpc.md; Bearer API key or session):
 * - `GET    /:rpcId` its state, answer and history fields (viewer and up, device in scope);
 * - `DELETE /:rpcId` cancels it while QUEUED (operator, in scope; audited): 200 with the
 *   CANCELLED row, 409 once it was sent or finished. A cancelled RPC is never delivered
 *   (its copies in Redis are dropped when taken: the claim needs QUEUED).
 * The RPC sweeper runs with this plugin (sweeper.ts).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { withTransaction } from '@spms/db';
import { RPC_COLUMNS } from '@spms/device-auth';
import type { Logger } from '@spms/log';
import { AppError } from '../../core/errors.js';
import { inScope } from '../../core/scope.js';
import { requireRole } from '../../plugins/auth.js';
import { metricsOf } from '../../plugins/metrics.js';
import { errorResponses } from '../error-schema.js';
import { RpcIdParams, RpcView } from './schemas.js';
import { startRpcSweeper } from './sweeper.js';

const rpcRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const sweeper = startRpcSweeper({
    pool: app.pg,
    redis: app.redis,
    prefix: app.config.REDIS_PREFIX,
    wakeup: app.config.PUBSUB_WAKEUPS,
    intervalMs: app.config.RPC_SWEEP_MS,
    log: app.log.child({ component: 'rpc-sweeper' }) as unknown as Logger,
    count: (result, n) => metricsOf(app).commands.inc({ kind: 'persistent_rpc', result }, n),
  });
  app.addHook('onClose', async () => sweeper.close());
  app.addHook('onRequest', app.authenticate);

  /** The row with its device's name, or 404 when missing or outside the caller's scope. */
  async function load(rpcId: string, scope: Parameters<typeof inScope>[0]) {
    const { rows } = await app.pg.query(
      `SELECT r.*, d.name AS "deviceName", d.region, d.customer
         FROM (SELECT ${RPC_COLUMNS} FROM device_rpc WHERE id = $1) r
         JOIN devices d ON d.id = r."deviceId"`,
      [rpcId],
    );
    const row = rows[0];
    if (!row || !inScope(scope, row)) throw new AppError('NOT_FOUND', `no persistent RPC ${rpcId}`);
    const { region: _r, customer: _c, ...view } = row;
    return view;
  }

  app.get('/:rpcId', { schema: { params: RpcIdParams, response: { 200: RpcView, ...errorResponses } } }, async (req) =>
    load(req.params.rpcId, req.principal?.scope ?? null),
  );

  app.delete(
    '/:rpcId',
    { schema: { params: RpcIdParams, response: { 200: RpcView, ...errorResponses } } },
    async (req) => {
      requireRole(req, 'operator');
      const before = await load(req.params.rpcId, req.principal?.scope ?? null);
      const after = await withTransaction(app.pg, async (tx) => {
        const { rows } = await tx.query(
          `UPDATE device_rpc SET status = 'CANCELLED', completed_at = now(), updated_at = now(),
                  error = 'cancelled by an operator'
            WHERE id = $1 AND status = 'QUEUED' RETURNING ${RPC_COLUMNS}`,
          [req.params.rpcId],
        );
        const row = rows[0];
        if (!row)
          throw new AppError(
            'CONFLICT',
            `RPC ${req.params.rpcId} is ${before.status}: only a QUEUED RPC can be cancelled`,
          );
        await app.audit(
          req,
          {
            action: 'device.rpc.cancel',
            entityType: 'device',
            entityId: row.deviceId,
            before: { rpcId: row.id, requestId: row.requestId, method: row.method, status: 'QUEUED' },
            after: { status: 'CANCELLED' },
          },
          tx,
        );
        return row;
      });
      metricsOf(app).commands.inc({ kind: 'persistent_rpc', result: 'cancelled' });
      return { ...after, deviceName: before.deviceName };
    },
  );
};

export default rpcRoutes;
