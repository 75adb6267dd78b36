/**
 * Security headers on every answer (dashboard, operator API, docs), with @fastify/helmet:
 * - Content-Security-Policy for the dashboard: scripts, styles, fonts, fetches and the event
 *   stream only from this origin; images also from any http(s) server, because the map's
 *   tile server is configurable at run time (apps/web/dist/config.json `tileUrl`); inline
 *   `style` attributes are allowed (Leaflet marker icons carry them), inline scripts are not;
 *   no plugins (`object-src 'none'`), and no page may frame the dashboard
 *   (`frame-ancestors 'none'`, and X-Frame-Options: DENY for older browsers).
 * - X-Content-Type-Options: nosniff; Referrer-Policy: strict-origin-when-cross-origin
 *   (tile servers such as OpenStreetMap's refuse requests without a Referer, so not
 *   `no-referrer`; paths and query strings never leave the origin).
 * - No `upgrade-insecure-requests` and no Strict-Transport-Security: SPMS is often served over
 *   plain HTTP on an isolated network, where both would break the dashboard; the TLS proxy in
 *   front of a public deployment is the place for HSTS.
 * The same policy serves the interactive docs (/docs: swagger-ui loads only its own files).
 *
 * helmet's middleware is built once, here, and set on the raw response in the first
 * onRequest hook (so errors, hijacked answers such as the event stream, and static files
 * carry them too). @fastify/helmet, used before, called helmet(options) anew for every
 * request — every option re-read and the policy string rebuilt per answer: ~7 % of a cached
 * fleet status answer's time. The same headers, with the same values, as before.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import helmet from 'helmet';

export const DASHBOARD_CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:', 'blob:', 'https:', 'http:'],
  fontSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  scriptSrcAttr: ["'none'"],
  upgradeInsecureRequests: null,
};

export const SECURITY_HEADER_OPTIONS = {
  contentSecurityPolicy: { useDefaults: false, directives: DASHBOARD_CSP },
  frameguard: { action: 'deny' },
  referrerPolicy: { policy: 'strict-origin-when-cross-origin' },
  strictTransportSecurity: false,
} as const satisfies Parameters<typeof helmet>[0];

export const securityHeadersPlugin = fp(
  async (app: FastifyInstance) => {
    const setHeaders = helmet(SECURITY_HEADER_OPTIONS);
    app.addHook('onRequest', (req, reply, done) =>
      setHeaders(req.raw, reply.raw, (err?: unknown) => done(err as Error | undefined)),
    );
  },
  { name: 'security-headers' },
);
