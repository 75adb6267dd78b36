/**
 * Matrix rows (authz-matrix.test.ts) for the e-mail channel: recipients on e-mail and the
 * scheduled report subscriptions (reads: any role within its scope; changes: admin only).
 */
import type { FastifyInstance } from 'fastify';
import { adminAuth } from '../routes/users/access-fixtures.js';
import { type Region, type Row, unique } from './authz-fixtures.js';

async function post(app: FastifyInstance, url: string, payload: object): Promise<string> {
  const res = await app.inject({ method: 'POST', url, headers: adminAuth, payload });
  if (res.statusCode !== 201) throw new Error(`POST ${url}: ${res.statusCode} ${res.body}`);
  return res.json().id as string;
}

const mailRecipient = (region: string) => ({
  name: unique('mail'),
  channel: 'email',
  email: 'ops@example.lk',
  scopeKind: 'region',
  scopeValue: region,
  kinds: ['outage'],
});

export function emailRows(getApp: () => FastifyInstance): Row[] {
  const recipient = (region: Region) => post(getApp(), '/api/recipients', mailRecipient(region));
  const subscription = async (region: Region) =>
    post(getApp(), '/api/report-subscriptions', {
      recipientId: await recipient(region),
      scopeKind: 'region',
      scopeValue: region,
    });
  return [
    {
      name: 'add e-mail recipient for North',
      method: 'POST',
      role: 'operator',
      url: () => '/api/recipients',
      body: () => mailRecipient('North'),
    },
    { name: 'list report subscriptions', method: 'GET', role: 'viewer', url: () => '/api/report-subscriptions' },
    {
      name: 'report subscription (North)',
      method: 'GET',
      role: 'viewer',
      target: 'North',
      entity: (region) => subscription(region),
      url: (c) => `/api/report-subscriptions/${c.id}`,
    },
    {
      name: 'report subscription (South)',
      method: 'GET',
      role: 'viewer',
      target: 'South',
      entity: (region) => subscription(region),
      url: (c) => `/api/report-subscriptions/${c.id}`,
    },
    {
      name: 'add report subscription',
      method: 'POST',
      role: 'admin',
      entity: (region) => recipient(region),
      url: () => '/api/report-subscriptions',
      body: (c) => ({ recipientId: c.id, scopeKind: 'region', scopeValue: c.region, weekly: true }),
    },
    {
      name: 'change report subscription',
      method: 'PATCH',
      role: 'admin',
      entity: (region) => subscription(region),
      url: (c) => `/api/report-subscriptions/${c.id}`,
      body: () => ({ weekly: true, worstSites: 3 }),
    },
    {
      name: 'delete report subscription',
      method: 'DELETE',
      role: 'admin',
      entity: (region) => subscription(region),
      url: (c) => `/api/report-subscriptions/${c.id}`,
    },
  ];
}
