/**
 * The two transports of ThingsBoard's OTA protocol for the OtaClient (docs/firmware-protocol.md):
 * MQTT on the device's own session (attribute request/push, `v2/fw/request/<id>/chunk/<n>` →
 * `v2/fw/response/<id>/chunk/<n>`), and HTTP (`GET /api/v1/<token>/attributes`, `GET
 * /api/v1/<token>/firmware?title&version&size&chunk`, telemetry POSTs).
 */
import { type Agent, request } from 'node:http';
import type { LeanMqttClient } from './mqtt-client.js';
import { ChunkTimeout, type FirmwareTarget, type OtaLink } from './ota-client.js';

export const OTA_SUBSCRIPTIONS = [
  'v1/devices/me/attributes',
  'v1/devices/me/attributes/response/+',
  'v2/fw/response/+/chunk/+',
  'v2/fw/error',
];

interface Waiter {
  resolve(b: Buffer): void;
  reject(err: Error): void;
}

/** An error the broker sent on v2/fw/error (NOT_FOUND, PAYLOAD_TOO_LARGE): the update fails. */
export class FirmwareServerError extends Error {
  readonly fwError = true;
}

export interface MqttLinkHooks {
  /** Telemetry on the device's session. */
  report(json: string): Promise<void>;
  onAttributes(attrs: Record<string, unknown>): void;
  drop(): void;
  reboot(comeBack: boolean): void;
}

/** One MQTT session's link; `close()` when the session ends (pending waits reject). */
export function mqttOtaLink(client: LeanMqttClient, hooks: MqttLinkHooks): OtaLink & { close(): void } {
  const waiters = new Map<string, Waiter>();
  const requestIds = new Map<string, number>();
  let nextRequest = Math.floor(Math.random() * 1000);
  const subscribed = client.subscribe(OTA_SUBSCRIPTIONS, 1);
  subscribed.catch(() => undefined); // a session that ended before SUBACK: the waits below fail

  const wait = (topic: string, timeoutMs: number) =>
    new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(topic);
        reject(new ChunkTimeout(`no answer on ${topic}`));
      }, timeoutMs);
      waiters.set(topic, {
        resolve: (b) => {
          clearTimeout(timer);
          resolve(b);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
    });

  client.on('message', (topic: string, payload: Buffer) => {
    if (topic === 'v1/devices/me/attributes') {
      const attrs = parseObject(payload);
      if (attrs) hooks.onAttributes(attrs);
      return;
    }
    if (topic === 'v2/fw/error') {
      const err = new FirmwareServerError(`firmware server error: ${payload.toString('utf8').slice(0, 100)}`);
      for (const [t, w] of waiters) if (t.startsWith('v2/fw/')) w.reject(err);
      return;
    }
    const w = waiters.get(topic);
    if (!w) return;
    waiters.delete(topic);
    w.resolve(payload);
  });

  return {
    report: (values) => hooks.report(JSON.stringify(values)),
    async sharedAttributes(keys) {
      await subscribed;
      const id = ++nextRequest;
      const answer = wait(`v1/devices/me/attributes/response/${id}`, 10_000);
      await client.publish(`v1/devices/me/attributes/request/${id}`, JSON.stringify({ sharedKeys: keys.join(',') }), 1);
      const shared = parseObject(await answer)?.shared;
      return typeof shared === 'object' && shared !== null ? (shared as Record<string, unknown>) : {};
    },
    async chunk(target, n, size, timeoutMs) {
      await subscribed;
      const key = `${target.title}\u0000${target.version}\u0000${target.checksum}`;
      let id = requestIds.get(key);
      if (id === undefined) {
        id = ++nextRequest;
        requestIds.set(key, id);
      }
      const answer = wait(`v2/fw/response/${id}/chunk/${n}`, timeoutMs);
      await client.publish(`v2/fw/request/${id}/chunk/${n}`, String(size), 1);
      return answer;
    },
    drop: hooks.drop,
    reboot: hooks.reboot,
    close() {
      const err = new Error('session ended');
      for (const w of waiters.values()) w.reject(err);
      waiters.clear();
    },
  };
}

function parseObject(payload: Buffer): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(payload.toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export interface HttpLinkOptions {
  baseUrl: string;
  token: string;
  agent?: Agent;
  localAddress?: string;
  /** Telemetry through the device's own POST (its retries and back-off). */
  report(json: string): Promise<void>;
  drop(): void;
  reboot(comeBack: boolean): void;
}

/** The HTTP device's link: plain GETs on its token's routes. */
export function httpOtaLink(o: HttpLinkOptions): OtaLink {
  const get = (path: string, timeoutMs: number) =>
    new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      const req = request(
        new URL(`/api/v1/${encodeURIComponent(o.token)}${path}`, o.baseUrl),
        {
          method: 'GET',
          timeout: timeoutMs,
          ...(o.agent ? { agent: o.agent } : {}),
          ...(o.localAddress ? { localAddress: o.localAddress } : {}),
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (b: Buffer) => parts.push(b));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new ChunkTimeout('timeout')));
      req.on('error', reject);
      req.end();
    });
  return {
    report: (values) => o.report(JSON.stringify(values)),
    async sharedAttributes(keys) {
      const { status, body } = await get(`/attributes?sharedKeys=${encodeURIComponent(keys.join(','))}`, 10_000);
      if (status !== 200) throw new Error(`attributes: HTTP ${status}`);
      const shared = parseObject(body)?.shared;
      return typeof shared === 'object' && shared !== null ? (shared as Record<string, unknown>) : {};
    },
    async chunk(target: FirmwareTarget, n, size, timeoutMs) {
      const q = new URLSearchParams({
        title: target.title,
        version: target.version,
        size: String(size),
        chunk: String(n),
      });
      const { status, body } = await get(`/firmware?${q}`, timeoutMs);
      if (status === 200) return body;
      if (status === 429 || status >= 500) throw new ChunkTimeout(`HTTP ${status}`); // ask again
      throw new FirmwareServerError(`firmware: HTTP ${status} ${body.toString('utf8').slice(0, 200)}`);
    },
    drop: o.drop,
    reboot: o.reboot,
  };
}
