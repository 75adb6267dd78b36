#!/usr/bin/env node
/**
 * Writes the API's OpenAPI document (what GET /docs/json serves) to the file named on the
 * command line, or to stdout. The dashboard generates its API types from it
 * (apps/web: `npm run openapi`), so a route's schema change reaches the web type-check.
 *
 * No database or Redis is needed: the document is collected from the route schemas while
 * the routes register. Prisma and the pg pools connect on their first query (none is made);
 * Redis is pointed at a closed port and its failed start-up is only logged (silenced here).
 * Nothing listens.
 */
import { writeFileSync } from 'node:fs';
import { buildApp } from '../app.js';
import { loadApiConfig } from '../config.js';

async function main(): Promise<void> {
  const config = loadApiConfig({
    DATABASE_URL: 'postgresql://openapi@127.0.0.1:1/none',
    REDIS_URL: 'redis://127.0.0.1:1',
    API_DOCS: 'true',
    REPORT_SCHEDULE: 'false',
    PUBSUB_WAKEUPS: 'false',
    LOG_LEVEL: 'silent',
  });
  const app = await buildApp(config);
  try {
    await app.ready();
    const doc = `${JSON.stringify(app.swagger(), null, 2)}\n`;
    const out = process.argv[2];
    if (out) writeFileSync(out, doc);
    else process.stdout.write(doc);
  } finally {
    await app.close();
  }
}

main().catch((err) => {
  console.error(`openapi: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
