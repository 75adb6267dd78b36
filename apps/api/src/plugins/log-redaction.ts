/**
 * Credentials that travel in URLs never reach the request log: the device access token in
 * ThingsBoard's /api/v1/<token>/... paths, and the `access_token` query parameter that
 * browsers' EventSource must use for the live stream (it cannot send headers).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';

export function redactUrl(url: string): string {
  return url.replace(/^(\/api\/v1\/)[^/?]+/, '$1<token>').replace(/([?&]access_token=)[^&#]*/gi, '$1[redacted]');
}

/** Call before registering routes: every route's request log uses the redacted URL. */
export function redactUrlsInRequestLogs(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    route.logSerializers = {
      ...route.logSerializers,
      req: (req: FastifyRequest) => ({ method: req.method, url: redactUrl(req.url), remoteAddress: req.ip }),
    };
  });
}
