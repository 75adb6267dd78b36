/**
 * Builds the API as a Fastify instance (tests call buildApp and use `app.inject`);
 * main.ts only listens and handles signals.
 */
import type { Logger } from '@spms/log';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { ApiConfig } from './config.js';
import { parseTrustProxy } from './plugins/access-config.js';
import { auditPlugin } from './plugins/audit.js';
import { authPlugin } from './plugins/auth.js';
import { errorsPlugin } from './plugins/errors.js';
import { redactUrlsInRequestLogs } from './plugins/log-redaction.js';
import { metricsPlugin } from './plugins/metrics.js';
import { openapiPlugin } from './plugins/openapi.js';
import { rateLimitPlugin } from './plugins/rate-limit.js';
import { resourcesPlugin } from './plugins/resources.js';
import { securityHeadersPlugin } from './plugins/security-headers.js';
import { webPlugin } from './plugins/web.js';
import alertRoutes from './routes/alerts/index.js';
import apiKeyRoutes from './routes/api-keys/index.js';
import auditRoutes from './routes/audit/index.js';
import authRoutes from './routes/auth/index.js';
import deadLetterRoutes from './routes/dead-letters/index.js';
import deviceApiRoutes from './routes/device-api/index.js';
import deviceCommandRoutes from './routes/device-commands/index.js';
import deviceRoutes from './routes/devices/index.js';
import { escalationPolicyRoutes, recipientGroupRoutes } from './routes/escalation/index.js';
import firmwareRoutes from './routes/firmware/index.js';
import healthRoutes from './routes/health/index.js';
import notificationRoutes from './routes/notifications/index.js';
import plannedRoutes from './routes/planned/index.js';
import profileRoutes from './routes/profiles/index.js';
import recipientRoutes from './routes/recipients/index.js';
import reportSubscriptionRoutes from './routes/report-subscriptions/index.js';
import rolloutRoutes from './routes/rollouts/index.js';
import rpcRoutes from './routes/rpc/index.js';
import smsInboundRoutes from './routes/sms-inbound/index.js';
import smsStatusRoutes from './routes/sms-status/index.js';
import readSideRoutes from './routes/status/read-side.js';
import userRoutes from './routes/users/index.js';

export async function buildApp(
  config: ApiConfig,
  opts: {
    logger?: Logger;
    /** The dashboard's built files (default apps/web/dist). */
    webRoot?: string;
  } = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    // pino's Logger is wider than FastifyBaseLogger; Fastify accepts it at run time.
    loggerInstance: opts.logger as FastifyBaseLogger | undefined,
    bodyLimit: Math.max(config.MAX_PAYLOAD_BYTES, 1024 * 1024),
    trustProxy: parseTrustProxy(config.TRUST_PROXY),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });
  redactUrlsInRequestLogs(app);
  await app.register(errorsPlugin);
  // CSP, nosniff, Referrer-Policy, no framing: on every answer, errors included.
  await app.register(securityHeadersPlugin);
  await app.register(resourcesPlugin, { config });
  // Request latency by route template, SSE clients, caches (served on API_METRICS_PORT by main.ts).
  await app.register(metricsPlugin);
  await app.register(authPlugin);
  await app.register(auditPlugin);
  // Before any route: both collect routes in onRoute hooks.
  if (config.API_DOCS) await app.register(openapiPlugin);
  await app.register(rateLimitPlugin);
  await app.register(healthRoutes);
  // ThingsBoard's HTTP device API: /api/v1/<token>/... (the token authenticates).
  await app.register(deviceApiRoutes, { prefix: '/api/v1' });
  // Operator API (Bearer API key).
  await app.register(deviceRoutes, { prefix: '/api/devices' });
  await app.register(profileRoutes, { prefix: '/api/profiles' });
  // Firmware images for updates over the air (the only route that takes a raw octet-stream body).
  await app.register(firmwareRoutes, { prefix: '/api/firmware' });
  await app.register(apiKeyRoutes, { prefix: '/api/api-keys' });
  // Alerts and SMS: alerts, recipients, texts; Twilio's delivery receipts (signed, no API key).
  await app.register(alertRoutes, { prefix: '/api/alerts' });
  await app.register(deadLetterRoutes, { prefix: '/api/dead-letters' });
  await app.register(recipientRoutes, { prefix: '/api/recipients' });
  await app.register(reportSubscriptionRoutes, { prefix: '/api/report-subscriptions' });
  await app.register(recipientGroupRoutes, { prefix: '/api/recipient-groups' });
  await app.register(escalationPolicyRoutes, { prefix: '/api/escalation-policies' });
  await app.register(notificationRoutes, { prefix: '/api/notifications' });
  await app.register(smsStatusRoutes, { prefix: '/api/sms/status' });
  // Replies by SMS through Twilio's inbound webhook (signed, no API key).
  await app.register(smsInboundRoutes, { prefix: '/api/sms/inbound' });
  // Access control: sign-in, users, audit log, planned interruptions.
  await app.register(authRoutes, { prefix: '/api/auth' });
  await app.register(userRoutes, { prefix: '/api/users' });
  await app.register(auditRoutes, { prefix: '/api/audit' });
  await app.register(plannedRoutes, { prefix: '/api/planned' });
  // Staged firmware rollouts (the worker's controller drives them).
  await app.register(rolloutRoutes, { prefix: '/api/rollouts' });
  // Operator → device: shared attributes and server-side RPC through the gateway.
  await app.register(deviceCommandRoutes, { prefix: '/api/devices' });
  await app.register(rpcRoutes, { prefix: '/api/rpc' });
  // Read side: status, outages, voltage, timeline, reports, live stream (/api/...).
  await app.register(readSideRoutes);
  // The operator dashboard (apps/web/dist) and its client-side routes; last, so /api wins.
  await app.register(webPlugin, opts.webRoot ? { root: opts.webRoot } : {});
  return app;
}
