/**
 * The operator API's read side in one registration: status, device state, outages,
 * voltage and connectivity timeline, reliability reports, and the live event stream.
 */
import type { FastifyInstance } from 'fastify';
import outageRoutes from '../outages/index.js';
import reportRoutes from '../reports/index.js';
import streamRoutes, { type StreamOptions } from '../stream/index.js';
import voltageRoutes from '../voltage/index.js';
import statusPlugins from './index.js';

export default async function readSideRoutes(app: FastifyInstance, opts: StreamOptions = {}): Promise<void> {
  await app.register(statusPlugins);
  await app.register(outageRoutes, { prefix: '/api/outages' });
  await app.register(reportRoutes, { prefix: '/api/reports' });
  await app.register(voltageRoutes, { prefix: '/api/devices' });
  await app.register(streamRoutes, { prefix: '/api/stream', ...opts });
}
