/**
 * ThingsBoard's device provisioning, as a device without credentials does it on first boot
 * (docs/thingsboard-compatibility.md#provisioning-and-claiming): MQTT — CONNECT with username
 * `provision`, subscribe to `/provision/response`, publish
 * `{"deviceName","provisionDeviceKey","provisionDeviceSecret"[, credentials]}` to
 * `/provision/request`; HTTP — `POST /api/v1/provision` with the same body. The answer is
 * `{"status":"SUCCESS","credentialsType","credentialsValue"}`, or NOT_FOUND / FAILURE with
 * `errorMsg` (a ProvisionRefused here).
 */
import { request } from 'node:http';
import { LeanMqttClient } from './mqtt-client.js';

export interface ProvisionRequest {
  deviceName: string;
  key: string;
  secret: string;
  /** Credentials the device brings itself (the profile must accept them); else the server makes a token. */
  credentials?:
    | { credentialsType: 'ACCESS_TOKEN'; token: string }
    | { credentialsType: 'MQTT_BASIC'; clientId: string; username: string; password: string };
}

/** What the device connects with afterwards. */
export interface ProvisionedCredentials {
  clientId: string;
  username: string;
  password?: string;
  /** The access token, for ACCESS_TOKEN credentials (HTTP devices put it in the URL). */
  token?: string;
}

export class ProvisionRefused extends Error {
  override name = 'ProvisionRefused';
  constructor(
    readonly status: string,
    readonly errorMsg: string,
  ) {
    super(`provisioning refused: ${status}${errorMsg ? ` (${errorMsg})` : ''}`);
  }
}

export const PROVISION_REQUEST_TOPIC = '/provision/request';
export const PROVISION_RESPONSE_TOPIC = '/provision/response';

export function provisionBody(req: ProvisionRequest): string {
  return JSON.stringify({
    deviceName: req.deviceName,
    provisionDeviceKey: req.key,
    provisionDeviceSecret: req.secret,
    ...req.credentials,
  });
}

/** The server's answer as credentials to connect with; throws ProvisionRefused otherwise. */
export function credentialsFromResponse(deviceName: string, body: unknown): ProvisionedCredentials {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (b.status !== 'SUCCESS') {
    throw new ProvisionRefused(String(b.status ?? 'no status'), typeof b.errorMsg === 'string' ? b.errorMsg : '');
  }
  const v = b.credentialsValue;
  if (b.credentialsType === 'ACCESS_TOKEN' && typeof v === 'string')
    return { clientId: deviceName, username: v, token: v };
  if (b.credentialsType === 'MQTT_BASIC' && typeof v === 'object' && v !== null) {
    const c = v as { clientId?: string | null; userName?: string | null; password?: string | null };
    return {
      clientId: c.clientId ?? deviceName,
      username: c.userName ?? '',
      ...(c.password ? { password: c.password } : {}),
    };
  }
  throw new ProvisionRefused('FAILURE', `unexpected answer ${JSON.stringify(body).slice(0, 200)}`);
}

/** MQTT provisioning on its own short session; resolves with the credentials to connect with. */
export async function provisionOverMqtt(
  target: { host: string; port: number; localAddress?: string; timeoutMs?: number },
  req: ProvisionRequest,
): Promise<ProvisionedCredentials> {
  const client = new LeanMqttClient({
    host: target.host,
    port: target.port,
    clientId: req.deviceName,
    username: 'provision',
    keepalive: 60,
    ...(target.localAddress ? { localAddress: target.localAddress } : {}),
  });
  await client.connect();
  try {
    const answer = new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no provisioning answer')), target.timeoutMs ?? 10_000);
      client.on('message', (topic: string, payload: Buffer) => {
        if (topic !== PROVISION_RESPONSE_TOPIC) return;
        clearTimeout(timer);
        resolve(payload);
      });
      client.once('close', () => {
        clearTimeout(timer);
        reject(new Error('connection closed before the provisioning answer'));
      });
    });
    await client.subscribe([PROVISION_RESPONSE_TOPIC], 1);
    await client.publish(PROVISION_REQUEST_TOPIC, provisionBody(req), 1);
    const payload = await answer;
    return credentialsFromResponse(req.deviceName, JSON.parse(payload.toString('utf8')));
  } finally {
    await client.end();
  }
}

/** HTTP provisioning: `POST <base>/api/v1/provision` (answered 200 whatever the status, as ThingsBoard). */
export function provisionOverHttp(
  baseUrl: string,
  req: ProvisionRequest,
  timeoutMs = 10_000,
): Promise<ProvisionedCredentials> {
  const body = provisionBody(req);
  return new Promise((resolve, reject) => {
    const r = request(
      new URL('/api/v1/provision', baseUrl),
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: timeoutMs,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (b: Buffer) => parts.push(b));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          try {
            const parsed = JSON.parse(text) as unknown;
            if (res.statusCode !== 200) {
              const msg = (parsed as { message?: string; errorMsg?: string }) ?? {};
              return reject(
                new ProvisionRefused(`HTTP ${res.statusCode}`, msg.errorMsg ?? msg.message ?? text.slice(0, 200)),
              );
            }
            resolve(credentialsFromResponse(req.deviceName, parsed));
          } catch (err) {
            reject(
              err instanceof ProvisionRefused
                ? err
                : new ProvisionRefused(`HTTP ${res.statusCode}`, text.slice(0, 200)),
            );
          }
        });
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', reject);
    r.end(body);
  });
}
