/** Calls for scheduled report e-mails (pages/report-subscriptions.tsx) and an alert's escalation (pages/alerts.tsx). */
import { json } from './client.js';
import type { Answer, Item } from './types.js';

/** `lastPeriods`: the periods already sent, newest first ('monthly:2026-11'). */
export type ReportSubscriptionRow = Item<'/api/report-subscriptions/'>;
export type AlertEscalation = NonNullable<Answer<'/api/alerts/{id}'>['escalation']>;
export type EscalationStep = AlertEscalation['steps'][number];

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
  (await json<Answer<'/api/alerts/{id}'>>('GET', `/api/alerts/${enc(alertId)}`)).escalation;
