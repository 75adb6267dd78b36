/**
 * Serves the operator dashboard (apps/web, built by Vite into apps/web/dist) from the API's
 * own port, so an isolated network needs nothing else: no CDN, no second web server.
 * - Hashed files under /assets/ never change: cached for a year, immutable.
 * - index.html and config.json are revalidated on every load (new deploys show at once).
 * - /config.json is the dashboard's runtime settings: the file in dist/ (edited in place to
 *   point the map at private or offline tiles) with the API's SPMS_TIME_ZONE as the default
 *   zone, so the dashboard, reports and CSV agree on local time.
 * - Any other GET that is not under /api/ and not a file gets index.html (client routing,
 *   so /devices/0003_MSAN can be bookmarked). Unknown /api/ paths keep their JSON 404.
 * When the dashboard was not built, the API runs without it and says so once.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export interface WebOptions {
  /** Directory with index.html; default: apps/web/dist next to this app (src/ or dist/). */
  root?: string;
}

const DEFAULT_ROOT = fileURLToPath(new URL('../../../web/dist/', import.meta.url));
const YEAR_S = 365 * 24 * 3600;

export const webPlugin = fp(
  async (app: FastifyInstance, opts: WebOptions) => {
    const root = opts.root ?? DEFAULT_ROOT;
    if (!existsSync(join(root, 'index.html'))) {
      app.log.warn({ root }, 'dashboard not built (run `npm run build`); serving the API only');
      return;
    }
    await app.register(fastifyStatic, {
      root,
      // Files are listed once at start-up; the catch-all below owns every other path.
      wildcard: false,
      globIgnore: ['config.json'],
      cacheControl: false,
      etag: true,
      lastModified: true,
      setHeaders(reply, path) {
        const immutable = /[\\/]assets[\\/]/.test(path);
        reply.header('cache-control', immutable ? `public, max-age=${YEAR_S}, immutable` : 'no-cache');
      },
    });
    app.get('/config.json', async (_req, reply) => {
      let file: Record<string, unknown> = {};
      try {
        file = JSON.parse(await readFile(join(root, 'config.json'), 'utf8')) as Record<string, unknown>;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') app.log.warn({ err }, 'dashboard config.json unreadable');
      }
      return reply.header('cache-control', 'no-cache').send({ timeZone: app.config.SPMS_TIME_ZONE, ...file });
    });
    app.get('/*', { schema: { hide: true } as Record<string, unknown> }, (req, reply) => {
      const path = req.url.split('?')[0] ?? '/';
      // API paths and missing hashed files are real 404s, never the HTML shell.
      if (path.startsWith('/api/') || path === '/api' || path.startsWith('/assets/')) return reply.callNotFound();
      return reply.header('cache-control', 'no-cache').sendFile('index.html');
    });
  },
  { name: 'web', dependencies: ['errors'] },
);
