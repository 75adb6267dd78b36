/**
 * One MQTT session to ThingsBoard per device, opened with that device's ThingsBoard
 * credentials when the bridge first forwards for it, closed after TB_BRIDGE_IDLE_MS without
 * a message. A publish resolves on ThingsBoard's PUBACK; any failure (refused CONNACK, the
 * connection lost, no PUBACK in time) rejects and drops the session, and the caller retries.
 */
import type { Pool } from '@spms/db';
import type { MqttClient } from 'mqtt';
import { type TbCredentialSource, TbCredentialsError } from './tb-credentials.js';

const TIMEOUT_MS = 15_000;

interface Session {
  name?: string;
  client?: MqttClient;
  idle?: NodeJS.Timeout;
}

export class TbSessions {
  private readonly sessions = new Map<string, Session>();
  /** Devices with an open session. */
  connected = 0;

  constructor(private readonly opts: { target: string; idleMs: number; pool: Pool; credentials: TbCredentialSource }) {}

  async publish(deviceId: string, topic: string, payload: string): Promise<void> {
    let s = this.sessions.get(deviceId);
    if (!s) {
      s = {};
      this.sessions.set(deviceId, s);
    }
    try {
      const client = await this.open(deviceId, s);
      await publishQos1(client, topic, payload);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // A refused CONNACK: the credentials may have changed in ThingsBoard; read them again.
      if (s.name && /Not authorized|Bad User Name or Password|Connection refused/i.test(message))
        this.opts.credentials.forget(s.name);
      this.drop(deviceId);
      throw err;
    }
    if (s.idle) clearTimeout(s.idle);
    s.idle = setTimeout(() => this.drop(deviceId), this.opts.idleMs);
    s.idle.unref();
  }

  /** The device's name in SPMS (ThingsBoard's device of the same name is used), once known. */
  nameOf(deviceId: string): string | undefined {
    return this.sessions.get(deviceId)?.name;
  }

  drop(deviceId: string): void {
    const s = this.sessions.get(deviceId);
    if (!s) return;
    if (s.idle) clearTimeout(s.idle);
    s.idle = undefined;
    if (s.client) {
      s.client.end(true);
      s.client = undefined;
      this.connected--;
    }
  }

  dropAll(): void {
    for (const id of this.sessions.keys()) this.drop(id);
    this.sessions.clear();
  }

  private async open(deviceId: string, s: Session): Promise<MqttClient> {
    if (s.client?.connected) return s.client;
    this.drop(deviceId);
    if (s.name === undefined) {
      const { rows } = await this.opts.pool.query<{ name: string }>('SELECT name FROM devices WHERE id = $1', [
        deviceId,
      ]);
      if (!rows[0]) throw new TbCredentialsError(`device ${deviceId} is no longer registered in SPMS`, true);
      s.name = rows[0].name;
    }
    const c = await this.opts.credentials.get(s.name);
    // Loaded only when the bridge runs.
    const mqtt = await import('mqtt');
    const client = await mqtt.connectAsync(this.opts.target, {
      clientId: c.clientId,
      username: c.username,
      password: c.password,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: TIMEOUT_MS,
      clean: true,
    });
    client.on('error', () => {}); // seen as a failed publish, retried
    client.on('close', () => {
      if (s.client === client) this.drop(deviceId);
    });
    s.client = client;
    this.connected++;
    return client;
  }
}

function publishQos1(client: MqttClient, topic: string, payload: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no PUBACK from ThingsBoard in time')), TIMEOUT_MS);
    const onClose = () => {
      clearTimeout(timer);
      reject(new Error('ThingsBoard closed the connection'));
    };
    client.once('close', onClose);
    client.publish(topic, payload, { qos: 1 }, (err) => {
      clearTimeout(timer);
      client.off('close', onClose);
      if (err) reject(err);
      else resolve();
    });
  });
}
