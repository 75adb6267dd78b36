/** Calls for scheduled report e-mails (pages/report-subscriptions.tsx) and an alert's escalation (pages/alerts.tsx). */
import { request } from './client.js';

export interface ReportSubscriptionRow {
  id: string;
  recipientId: string;
  recipientName: string;
  email: string | null;
  scopeKind: 'all' | 'region' | 'customer';
  scopeValue: string | null;
  monthly: boolean;
  weekly: boolean;
  worstSites: number;
  enabled: boolean;
  /** Periods already sent, newest first ('monthly:2026-11'). */
  lastPeriods: string[];
  warnings: string[];
}

export interface EscalationStep {
  tier: number;
  recipientId: string | null;
  recipientName: string | null;
  outcome: string;
  at: string;
}
export interface AlertEscalation {
  policyId: string | null;
  policyName: string;
  nextTier: number | null;
  nextAt: string | null;
  stoppedReason: string | null;
  startedAt: string;
  steps: EscalationStep[];
}

const json = async <T>(method: string, path: string, body?: unknown): Promise<T> =>
  (await (await request(method, path, body)).json()) as T;
const enc = encodeURIComponent;

export const reportSubscriptions = async () =>
  (await json<{ items: ReportSubscriptionRow[] }>('GET', '/api/report-subscriptions')).items;
export const saveReportSubscription = (id: string | null, body: Record<string, unknown>) =>
  id
    ? json<ReportSubscriptionRow>('PATCH', `/api/report-subscriptions/${enc(id)}`, body)
    : json<ReportSubscriptionRow>('POST', '/api/report-subscriptions', body);
export const deleteReportSubscription = (id: string) =>
  json<ReportSubscriptionRow>('DELETE', `/api/report-subscriptions/${enc(id)}`);

/** GET /api/alerts/{id}'s escalation: null when no policy matched the alert. */
export const alertEscalation = async (alertId: string) =>
  (await json<{ escalation: AlertEscalation | null }>('GET', `/api/alerts/${enc(alertId)}`)).escalation;
