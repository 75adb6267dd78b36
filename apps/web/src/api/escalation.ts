/** Calls for recipient groups and escalation policies (pages/escalation.tsx). */
import { json } from './client.js';
import type { Item } from './types.js';

export type GroupRow = Item<'/api/recipient-groups/'>;
export type PolicyRow = Item<'/api/escalation-policies/'>;
export type TierRow = PolicyRow['tiers'][number];

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
