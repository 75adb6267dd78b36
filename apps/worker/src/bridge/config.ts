/**
 * Settings of the cut-over bridge (forwarding to ThingsBoard what SPMS accepts). The worker
 * spreads `BridgeConfigSchema.properties` into its own schema; TB_BRIDGE_URL unset = off.
 */
import { ConfigError, type Static, Type } from '@spms/config';

export const BridgeConfigSchema = Type.Object({
  /** ThingsBoard's MQTT address, e.g. mqtts://mqtt.thingsboard.cloud:8883; unset = bridge off. */
  TB_BRIDGE_URL: Type.Optional(Type.String({ pattern: '^mqtts?://[^/@]+$', description: 'mqtt(s)://host:port' })),
  /** ThingsBoard's REST API, where the bridge reads each device's credentials at need. */
  TB_BRIDGE_API_URL: Type.Optional(
    Type.String({ pattern: '^https?://', description: 'e.g. https://thingsboard.cloud' }),
  ),
  /** A tenant administrator of ThingsBoard (held in memory only, never logged). */
  TB_BRIDGE_USERNAME: Type.Optional(Type.String({ minLength: 1 })),
  TB_BRIDGE_PASSWORD: Type.Optional(Type.String({ minLength: 1 })),
  /** Messages kept waiting for ThingsBoard at most; beyond, the oldest are dropped (counted). */
  TB_BRIDGE_MAX_BACKLOG: Type.Integer({ minimum: 100, default: 1_000_000, description: 'messages' }),
  /** Longest wait between two attempts of one device (the back-off doubles from 1 s to this). */
  TB_BRIDGE_RETRY_MAX_MS: Type.Integer({ minimum: 100, default: 60_000, description: 'milliseconds' }),
  /** A device's MQTT session to ThingsBoard is closed after this long without a message. */
  TB_BRIDGE_IDLE_MS: Type.Integer({ minimum: 1000, default: 120_000, description: 'milliseconds' }),
});

export type BridgeConfig = Static<typeof BridgeConfigSchema>;

export interface BridgeSettings {
  mqttUrl: string;
  apiUrl: string;
  username: string;
  password: string;
  maxBacklog: number;
  retryMaxMs: number;
  idleMs: number;
}

/** null when the bridge is off; a ConfigError naming what is missing when half-configured. */
export function bridgeSettings(c: BridgeConfig): BridgeSettings | null {
  if (!c.TB_BRIDGE_URL) return null;
  const missing = (['TB_BRIDGE_API_URL', 'TB_BRIDGE_USERNAME', 'TB_BRIDGE_PASSWORD'] as const).filter((k) => !c[k]);
  if (missing.length > 0)
    throw new ConfigError(
      missing.map((k) => `${k}: required with TB_BRIDGE_URL (the bridge reads device credentials from ThingsBoard)`),
    );
  return {
    mqttUrl: c.TB_BRIDGE_URL,
    apiUrl: (c.TB_BRIDGE_API_URL as string).replace(/\/+$/, ''),
    username: c.TB_BRIDGE_USERNAME as string,
    password: c.TB_BRIDGE_PASSWORD as string,
    maxBacklog: c.TB_BRIDGE_MAX_BACKLOG,
    retryMaxMs: c.TB_BRIDGE_RETRY_MAX_MS,
    idleMs: c.TB_BRIDGE_IDLE_MS,
  };
}
