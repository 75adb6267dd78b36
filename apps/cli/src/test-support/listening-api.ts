/**
 * The real API on a free port with its own database and Redis prefix, for driving the CLI
 * in-process as a user would (over HTTP with an API key). The API's own test instance
 * (createTestApi), listening.
 */
import { freePort } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { createTestApi } from '../../../api/src/test-support/test-api.js';

export interface ListeningApi {
  app: FastifyInstance;
  /** http://127.0.0.1:<port> */
  url: string;
  close(): Promise<void>;
}

/** `name` names the test database and Redis prefix; `env` adds API settings (all strings). */
export async function startListeningApi(
  name: string,
  adminKey: string,
  env: Record<string, string> = {},
): Promise<ListeningApi> {
  const api = await createTestApi(name, { SPMS_ADMIN_API_KEY: adminKey, ...env });
  const port = await freePort();
  await api.app.listen({ port, host: '127.0.0.1' });
  return { app: api.app, url: `http://127.0.0.1:${port}`, close: api.close };
}
