/**
 * Every process's /metrics, scraped over real HTTP after real work (a device connects and
 * publishes over MQTT, an outage opens, the operator API answers requests and a command),
 * checked against Prometheus' naming conventions (support/metrics-lint.ts), and the
 * families an operator's dashboards rely on are there with the right type.
 */
import { createTestRedis, type TestRedis } from '@spms/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, type FullStack, startFullStack, until } from './test-support/full-stack.js';
import { lintExposition } from './test-support/metrics-lint.js';

let redis: TestRedis;
let stack: FullStack;
const scrape = async (url: string) => {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
};
const typeOf = (text: string, family: string) => new RegExp(`^# TYPE ${family} (\\w+)$`, 'm').exec(text)?.[1];
const sample = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

beforeAll(async () => {
  redis = createTestRedis('metrics');
  stack = await startFullStack('metrics', redis);
  const { id, client } = await stack.connectDevice('metrics_dev');
  for (let line = 1; line <= 8; line++)
    await client.publishAsync('v1/devices/me/telemetry', `{'${line}':'true'}`, { qos: 1 });
  await client.publishAsync('v1/devices/me/telemetry', "{'3':'false'}", { qos: 1 });
  await until(async () => {
    const r = await stack.sql.query('SELECT 1 FROM outages WHERE device_id = $1', [id]);
    return r.rowCount;
  });
  const auth = { authorization: `Bearer ${ADMIN_KEY}` };
  expect((await stack.api.inject({ url: '/api/status', headers: auth })).statusCode).toBe(200);
  expect((await stack.api.inject({ url: '/api/status', headers: auth })).statusCode).toBe(200);
  expect((await stack.api.inject({ url: `/api/devices/${id}/attributes`, headers: auth })).statusCode).toBe(200);
  expect((await stack.api.inject({ url: '/api/no-such-route/123' })).statusCode).toBe(404);
  const push = await stack.api.inject({
    method: 'POST',
    url: `/api/devices/${id}/attributes`,
    headers: auth,
    payload: { shared: { interval: 60 } },
  });
  expect(push.statusCode).toBeLessThan(300);
}, 120_000);

afterAll(async () => {
  await stack?.close();
  await redis?.cleanup();
});

describe('/metrics of every process', () => {
  it.each(['broker', 'worker', 'alerts', 'api'] as const)('%s: follows the naming conventions', async (name) => {
    const text = await scrape(stack.metricsUrls[name]);
    expect(lintExposition(text)).toEqual([]);
    // Default process metrics everywhere, under the process's own prefix.
    expect(typeOf(text, `spms_${name}_process_cpu_seconds_total`)).toBe('counter');
    expect(typeOf(text, `spms_${name}_process_resident_memory_bytes`)).toBe('gauge');
    expect(typeOf(text, `spms_${name}_nodejs_active_handles`)).toBe('gauge');
  });

  it('broker: connections, messages, commands, takeovers', async () => {
    const text = await scrape(stack.metricsUrls.broker);
    expect(sample(text, 'spms_broker_connections')).toBe(1);
    expect(sample(text, 'spms_broker_messages_accepted_total{kind="telemetry"}')).toBeGreaterThanOrEqual(9);
    expect(typeOf(text, 'spms_broker_device_commands_total')).toBe('counter');
    expect(typeOf(text, 'spms_broker_session_takeovers_total')).toBe('counter');
    expect(typeOf(text, 'spms_broker_ingest_failed_messages_total')).toBe('counter');
    expect(typeOf(text, 'spms_broker_enqueue_seconds')).toBe('histogram');
  });

  it('worker: queue depth and age, jobs, transaction time, outages opened, events', async () => {
    const text = await scrape(stack.metricsUrls.worker);
    expect(typeOf(text, 'spms_ingest_queue_jobs')).toBe('gauge');
    expect(typeOf(text, 'spms_ingest_queue_oldest_waiting_seconds')).toBe('gauge');
    expect(sample(text, 'spms_worker_ingest_jobs_total{result="completed"}')).toBeGreaterThan(0);
    expect(sample(text, 'spms_worker_transaction_seconds_count')).toBeGreaterThan(0);
    expect(sample(text, 'spms_worker_outages_opened_total')).toBe(1);
    expect(sample(text, 'spms_worker_domain_events_total{type="outage.opened"}')).toBe(1);
  });

  it('alerts: SMS and e-mail sends (the name they had when alerts ran in the worker)', async () => {
    const text = await scrape(stack.metricsUrls.alerts);
    expect(typeOf(text, 'spms_worker_notifications_total')).toBe('counter');
  });

  it('api: latency by route template and status class, caches, SSE, commands', async () => {
    const text = await scrape(stack.metricsUrls.api);
    expect(
      sample(text, 'spms_api_http_request_duration_seconds_count{method="GET",route="/api/status",status_class="2xx"}'),
    ).toBe(2);
    // The template, never the raw URL (one series whatever the device).
    expect(text).toContain('route="/api/devices/:idOrName/attributes"');
    expect(text).not.toMatch(/route="\/api\/devices\/[0-9a-f]{8}-/);
    // A request no route matched is counted under one label, whatever its path.
    expect(text).not.toContain('no-such-route');
    expect(text).toMatch(
      /spms_api_http_request_duration_seconds_count\{method="GET",route="[^"]+",status_class="4xx"\} 1/,
    );
    expect(sample(text, 'spms_api_cache_requests_total{cache="status",result="miss"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'spms_api_sse_clients')).toBe(0);
    expect(typeOf(text, 'spms_api_live_events_sent_total')).toBe('counter');
    expect(sample(text, 'spms_api_device_commands_total{kind="attributes",result="live"}')).toBe(1);
  });

  it('the lint finds what it is for', () => {
    const bad = [
      '# HELP a_jobs x',
      '# TYPE a_jobs counter',
      'a_jobs 1',
      '# HELP b_total x',
      '# TYPE b_total gauge',
      'b_total 1',
      '# HELP c_latency_ms x',
      '# TYPE c_latency_ms histogram',
      'c_latency_ms_count 1',
      '# HELP b_total x',
      '# TYPE b_total gauge',
      'orphan 1',
    ].join('\n');
    expect(lintExposition(bad)).toEqual([
      'b_total: HELP given twice (duplicate family)',
      'b_total: TYPE given twice (duplicate family)',
      'a_jobs: a counter must end in _total',
      'b_total: a gauge must not end in _total',
      'c_latency_ms: a histogram must carry its base unit (_seconds or _bytes)',
      'c_latency_ms: use base units (seconds, bytes, ratios)',
      'orphan: sample of no declared family',
    ]);
  });
});
