/**
 * The operator API's read side in one registration: status, device state, outages,
 * voltage and connectivity timeline, reliability reports, and the live event stream.
 */
import type { FastifyInstance } from 'fastify';
import statusPlugins from './index.js';

export default async function readSideRoutes(app: FastifyInstance): Promise<void> {
  await app.register(statusPlugins);
}
