/**
 * Prometheus metrics of one alerts process, served by main.ts on ALERTS_HTTP_PORT
 * (`/metrics`, `/healthz`): the default process metrics (`spms_alerts_` prefix) and the SMS
 * and e-mail send attempts. The send counter keeps the name it had when alerts ran inside
 * the worker (`spms_worker_notifications_total`), so existing dashboards and alert rules
 * keep working.
 */
import type { Server } from 'node:http';
import {
  type DurabilityReport,
  registerProcessMetrics,
  registerRedisDurableGauge,
  serveMetricsHttp,
} from '@spms/queue';
import { Counter, Registry } from 'prom-client';

export type NotificationResult = 'sent' | 'retrying' | 'failed';

/**
 * SMS and e-mail send attempts of this process by channel, provider and outcome (sent =
 * accepted by the provider; retrying = failed, another attempt follows; failed = final).
 * Process-wide: the senders (send.ts, email-send.ts) count where they send.
 */
const notificationCounts = new Map<string, number>();

export function countNotification(channel: 'sms' | 'email', provider: string, result: NotificationResult): void {
  const key = `${channel}\u0000${provider}\u0000${result}`;
  notificationCounts.set(key, (notificationCounts.get(key) ?? 0) + 1);
}

export function createAlertsMetrics(opts: { durability?: () => DurabilityReport } = {}): { registry: Registry } {
  const registry = new Registry();
  registerProcessMetrics(registry, 'spms_alerts_');
  new Counter({
    name: 'spms_worker_notifications_total',
    help: 'SMS and e-mail send attempts by channel, provider and result (sent = accepted by the provider, retrying = failed and tried again later, failed = failed for good)',
    labelNames: ['channel', 'provider', 'result'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, n] of notificationCounts) {
        const [channel, provider, result] = key.split('\u0000') as [string, string, string];
        this.inc({ channel, provider, result }, n);
      }
    },
  });
  if (opts.durability) registerRedisDurableGauge(registry, opts.durability);
  return { registry };
}

/** `/metrics` and `/healthz` on a plain HTTP server (the alerts process serves nothing else). */
export function serveMetrics(registry: Registry, port: number, host: string): Promise<Server> {
  return serveMetricsHttp(registry, port, host, { healthz: true });
}
