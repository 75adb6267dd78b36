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
 */
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

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

export const securityHeadersPlugin = fp(
  async (app: FastifyInstance) => {
    await app.register(helmet, {
      global: true,
      contentSecurityPolicy: { useDefaults: false, directives: DASHBOARD_CSP },
      frameguard: { action: 'deny' },
      referrerPolicy: { policy: 'strict-origin-when-cross-origin' },
      strictTransportSecurity: false,
    });
  },
  { name: 'security-headers' },
);
