/**
 * Each device's ThingsBoard credentials, read from ThingsBoard's REST API when the bridge
 * first forwards for the device (SPMS keeps only hashes of the secrets). The tenant
 * administrator's password and the credentials are held in memory only and never logged.
 */
import type { BridgeSettings } from './config.js';

export type TbMqttCredentials = { clientId: string; username: string; password: string | undefined };

export class TbCredentialsError extends Error {
  override name = 'TbCredentialsError';
  /** No retry can succeed (the device was deleted from SPMS): its waiting messages are dropped. */
  constructor(
    message: string,
    readonly permanent = false,
  ) {
    super(message);
  }
}

const TIMEOUT_MS = 15_000;

export class TbCredentialSource {
  private token: string | null = null;
  private readonly cache = new Map<string, Promise<TbMqttCredentials>>();

  constructor(private readonly s: Pick<BridgeSettings, 'apiUrl' | 'username' | 'password'>) {}

  /** Credentials of the ThingsBoard device named `name` (cached until `forget`). */
  get(name: string): Promise<TbMqttCredentials> {
    let p = this.cache.get(name);
    if (!p) {
      p = this.fetchCredentials(name);
      this.cache.set(name, p);
      p.catch(() => this.cache.delete(name));
    }
    return p;
  }

  /** ThingsBoard refused them: read them again next time (they may have been changed there). */
  forget(name: string): void {
    this.cache.delete(name);
  }

  private async fetchCredentials(name: string): Promise<TbMqttCredentials> {
    const device = await this.call<{ id: { id: string } }>(
      `looking up device ${name}`,
      `/api/tenant/devices?deviceName=${encodeURIComponent(name)}`,
    );
    const c = await this.call<{
      credentialsType: string;
      credentialsId: string | null;
      credentialsValue: string | null;
    }>(`reading the credentials of ${name}`, `/api/device/${encodeURIComponent(device.id.id)}/credentials`);
    if (c.credentialsType === 'ACCESS_TOKEN' && c.credentialsId)
      return { clientId: `spms-bridge-${device.id.id}`, username: c.credentialsId, password: undefined };
    if (c.credentialsType === 'MQTT_BASIC' && c.credentialsValue) {
      const v = JSON.parse(c.credentialsValue) as {
        clientId?: string | null;
        userName?: string | null;
        password?: string | null;
      };
      return {
        clientId: v.clientId || `spms-bridge-${device.id.id}`,
        username: v.userName ?? '',
        password: v.password ?? undefined,
      };
    }
    throw new TbCredentialsError(
      `${name}: ThingsBoard credentials of type ${c.credentialsType} cannot be used over MQTT`,
    );
  }

  private async login(): Promise<string> {
    const res = await fetch(`${this.s.apiUrl}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: this.s.username, password: this.s.password }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (!res.ok)
      throw new TbCredentialsError(
        `signing in to ThingsBoard at ${this.s.apiUrl}: HTTP ${res.status} (check TB_BRIDGE_USERNAME / TB_BRIDGE_PASSWORD)`,
      );
    const body = (await res.json()) as { token?: string };
    if (!body.token)
      throw new TbCredentialsError(`signing in to ThingsBoard at ${this.s.apiUrl}: no token in the answer`);
    return body.token;
  }

  private async call<T>(step: string, path: string): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      this.token ??= await this.login();
      const res = await fetch(`${this.s.apiUrl}${path}`, {
        headers: { 'x-authorization': `Bearer ${this.token}` },
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      if (res.status === 401 && attempt === 0) {
        this.token = null; // expired: sign in again once
        continue;
      }
      if (res.status === 404) throw new TbCredentialsError(`${step}: not found in ThingsBoard`);
      if (!res.ok) throw new TbCredentialsError(`${step}: ThingsBoard answered HTTP ${res.status}`);
      return (await res.json()) as T;
    }
  }
}
