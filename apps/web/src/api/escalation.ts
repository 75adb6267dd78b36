/** Calls for recipient groups and escalation policies (pages/escalation.tsx). */
import { request } from './client.js';

export interface GroupRow {
  id: string;
  name: string;
  description: string | null;
  members: { id: string; name: string }[];
}
export interface TierRow {
  tier: number;
  delaySec: number;
  recipientIds: string[];
  groupIds: string[];
}
export interface PolicyRow {
  id: string;
  name: string;
  enabled: boolean;
  scopeKind: 'all' | 'region' | 'customer' | 'device';
  scopeValue: string | null;
  severities: string[];
  tiers: TierRow[];
}

const json = async <T>(method: string, path: string, body?: unknown): Promise<T> =>
  (await (await request(method, path, body)).json()) as T;
const enc = encodeURIComponent;

export const groups = async () => (await json<{ items: GroupRow[] }>('GET', '/api/recipient-groups')).items;
export const saveGroup = (id: string | null, body: Record<string, unknown>) =>
  id
    ? json<GroupRow>('PATCH', `/api/recipient-groups/${enc(id)}`, body)
    : json<GroupRow>('POST', '/api/recipient-groups', body);
export const deleteGroup = (id: string) => json<GroupRow>('DELETE', `/api/recipient-groups/${enc(id)}`);

export const policies = async () => (await json<{ items: PolicyRow[] }>('GET', '/api/escalation-policies')).items;
export const savePolicy = (id: string | null, body: Record<string, unknown>) =>
  id
    ? json<PolicyRow>('PATCH', `/api/escalation-policies/${enc(id)}`, body)
    : json<PolicyRow>('POST', '/api/escalation-policies', body);
export const deletePolicy = (id: string) => json<PolicyRow>('DELETE', `/api/escalation-policies/${enc(id)}`);
