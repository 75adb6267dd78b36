/**
 * Matrix rows (authz-matrix.test.ts) for recipient groups and escalation policies: operators
 * read inside their scope (a North-scoped key sees a North group or policy, gets 404 for a
 * South one), only admins write.
 */
import type { FastifyInstance } from 'fastify';
import { adminAuth } from '../routes/users/access-fixtures.js';
import type { Fixtures, Region, Row } from './authz-fixtures.js';
import { unique } from './authz-fixtures.js';

export function escalationRows(f: Fixtures, getApp: () => FastifyInstance): Row[] {
  const create = async (url: string, payload: object): Promise<string> => {
    const res = await getApp().inject({ method: 'POST', url, headers: adminAuth, payload });
    if (res.statusCode !== 201) throw new Error(`POST ${url}: ${res.statusCode} ${res.body}`);
    return res.json().id;
  };
  // A group of the region's recipient; a policy for the region whose tier 1 is that recipient.
  const group = (region: Region) =>
    create('/api/recipient-groups', { name: unique(`G${region}`), memberIds: [f.shared.recipient[region]] });
  const policy = (region: Region) =>
    create('/api/escalation-policies', {
      name: unique(`P${region}`),
      scopeKind: 'region',
      scopeValue: region,
      tiers: [{ delaySec: 0, recipientIds: [f.shared.recipient[region]] }],
    });
  const groupRows = (region: Region): Row[] => [
    {
      name: `recipient group (${region})`,
      method: 'GET',
      role: 'operator',
      target: region,
      entity: group,
      url: (c) => `/api/recipient-groups/${c.id}`,
    },
    {
      name: `update recipient group (${region})`,
      method: 'PATCH',
      role: 'admin',
      target: region,
      entity: group,
      url: (c) => `/api/recipient-groups/${c.id}`,
      body: () => ({ description: 'night shift' }),
    },
    {
      name: `delete recipient group (${region})`,
      method: 'DELETE',
      role: 'admin',
      target: region,
      entity: group,
      url: (c) => `/api/recipient-groups/${c.id}`,
    },
  ];
  const policyRows = (region: Region): Row[] => [
    {
      name: `escalation policy (${region})`,
      method: 'GET',
      role: 'operator',
      target: region,
      entity: policy,
      url: (c) => `/api/escalation-policies/${c.id}`,
    },
    {
      name: `update escalation policy (${region})`,
      method: 'PATCH',
      role: 'admin',
      target: region,
      entity: policy,
      url: (c) => `/api/escalation-policies/${c.id}`,
      body: () => ({ severities: ['critical'] }),
    },
    {
      name: `delete escalation policy (${region})`,
      method: 'DELETE',
      role: 'admin',
      target: region,
      entity: policy,
      url: (c) => `/api/escalation-policies/${c.id}`,
    },
  ];
  return [
    { name: 'list recipient groups', method: 'GET', role: 'operator', url: () => '/api/recipient-groups' },
    {
      name: 'add recipient group',
      method: 'POST',
      role: 'admin',
      url: () => '/api/recipient-groups',
      body: () => ({ name: unique('G'), memberIds: [f.shared.recipient.North] }),
    },
    ...groupRows('North'),
    ...groupRows('South'),
    { name: 'list escalation policies', method: 'GET', role: 'operator', url: () => '/api/escalation-policies' },
    {
      name: 'add escalation policy',
      method: 'POST',
      role: 'admin',
      url: () => '/api/escalation-policies',
      body: () => ({
        name: unique('P'),
        scopeKind: 'all',
        tiers: [{ delaySec: 0, recipientIds: [f.shared.recipient.North] }],
      }),
    },
    ...policyRows('North'),
    ...policyRows('South'),
  ];
}
