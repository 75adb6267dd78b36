/**
 * Claiming (ThingsBoard's `POST /api/customer/device/{deviceName}/claim {"secretKey"}`):
 * `POST /api/devices/{idOrName}/claim {"secretKey","customer"?}` assigns a device that sent
 * a claim request (v1/devices/me/claim, or HTTP /api/v1/<token>/claim) to a customer:
 * the caller's own when their scope names exactly one, else the `customer` given (which a
 * customer-scoped caller may only pick from their scope). The claim is used up.
 *
 * Scope: the device must be in the caller's regions; its customer is not checked, since an
 * unclaimed device has none yet. Answers: 404, one message, for an unknown device, one
 * outside the caller's regions, no pending claim request or a wrong secret (so neither names
 * nor secrets can be probed); 422 expired and 409 the device already has a customer (both
 * only after the secret matched). Failed attempts are limited per principal
 * (CLAIM_FAILURES_PER_MIN, 10 a minute): beyond it 429 with Retry-After, before any look-up.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { verifySecret } from '@spms/credentials';
import { withTransaction } from '@spms/db';
import type { Logger } from '@spms/log';
import { Type } from 'typebox';
import { AppError } from '../../core/errors.js';
import { RedisTokenBuckets, sendTooMany } from '../device-api/throttle.js';
import { errorResponses } from '../error-schema.js';
import type { DeviceRouteOptions } from './route-options.js';
import { Device, DeviceParams } from './schemas.js';

const CLAIM_FAILURES_PER_MIN = 10;

const ClaimBody = Type.Object(
  {
    secretKey: Type.String({
      minLength: 1,
      maxLength: 256,
      description: 'the secret the device sent with its claim request',
    }),
    customer: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description: "customer to assign the device to (default: the caller's only customer)",
      }),
    ),
  },
  { additionalProperties: false },
);

const claimRoutes: FastifyPluginAsyncTypebox<DeviceRouteOptions> = async (app, { registry }) => {
  const buckets = new RedisTokenBuckets(
    app.redis,
    app.config.REDIS_PREFIX,
    app.log.child({ component: 'device-claim' }) as unknown as Logger,
  );
  const rate = CLAIM_FAILURES_PER_MIN / 60;

  app.post(
    '/:idOrName/claim',
    {
      schema: {
        summary: 'Claim a device with the secret of its claim request',
        params: DeviceParams,
        body: ClaimBody,
        response: { 200: Device, ...errorResponses },
      },
    },
    async (req, reply) => {
      const p = req.principal;
      const scope = p?.scope ?? null;
      const who = `claimfail:${p?.kind}:${p?.id}`;
      const budget = await buckets.take(who, rate, CLAIM_FAILURES_PER_MIN, 0);
      if (!budget.allowed) return sendTooMany(reply, budget.retryAfterMs, 'too many failed claims; retry later');

      const customers = scope?.customers ?? null;
      const customer = req.body.customer ?? (customers?.length === 1 ? customers[0] : undefined);
      if (!customer)
        throw new AppError(
          'BAD_REQUEST',
          customers
            ? `customer: name one of your customers (${customers.join(', ')})`
            : 'customer: name the customer to assign the device to',
        );
      if (customers && !customers.includes(customer))
        throw new AppError('FORBIDDEN', `customer: "${customer}" is outside your scope`);

      // Regions only: an unclaimed device has no customer yet. An unknown name, a device
      // outside the caller's regions, no pending claim and a wrong secret all get one answer,
      // and all count as failures: the route does not tell which device names exist.
      const regionScope = scope ? { regions: scope.regions, customers: null } : null;
      const refused = async (): Promise<never> => {
        await buckets.take(who, rate, CLAIM_FAILURES_PER_MIN);
        throw new AppError(
          'NOT_FOUND',
          `no device "${req.params.idOrName}" with a pending claim request matching this secretKey`,
        );
      };
      const device = await registry.get(req.params.idOrName, regionScope).catch((err: unknown) => {
        if (err instanceof AppError && err.code === 'NOT_FOUND') return null;
        throw err;
      });
      if (!device) return refused();
      const { rows } = await app.pg.query<{ secret_hash: string; expired: boolean; expires_at: Date }>(
        'SELECT secret_hash, expires_at, expires_at <= now() AS expired FROM device_claims WHERE device_id = $1',
        [device.id],
      );
      const claim = rows[0];
      if (!claim || !(await verifySecret(req.body.secretKey, claim.secret_hash))) return refused();
      if (claim.expired)
        throw new AppError(
          'UNPROCESSABLE',
          `claim request expired at ${claim.expires_at.toISOString()}: have the device send a new one (v1/devices/me/claim)`,
        );
      if (device.customer !== null) throw new AppError('CONFLICT', 'device already claimed: it has a customer');

      await withTransaction(app.pg, async (tx) => {
        const updated = await tx.query(
          'UPDATE devices SET customer = $1, updated_at = now() WHERE id = $2 AND customer IS NULL',
          [customer, device.id],
        );
        if (!updated.rowCount) throw new AppError('CONFLICT', 'device already claimed: it has a customer');
        await tx.query('DELETE FROM device_claims WHERE device_id = $1', [device.id]);
        await app.audit(
          req,
          {
            action: 'device.claim',
            entityType: 'device',
            entityId: device.id,
            before: { customer: null },
            after: { customer },
          },
          tx,
        );
      });
      return registry.get(device.id, null);
    },
  );
};

export default claimRoutes;
