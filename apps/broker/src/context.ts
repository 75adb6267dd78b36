/** What every hook needs, built once by startGateway. */

import type { Pool } from '@spms/db';
import type { DeviceAuthenticator, DeviceIdentity } from '@spms/device-auth';
import type { Logger } from '@spms/log';
import type { IngestProducer } from '@spms/queue';
import type { Client } from 'aedes';
import type { BrokerConfig } from './config.js';
import type { SharedKeyedLimiter, TokenBucket } from './limits.js';
import type { GatewayMetrics } from './metrics.js';
import { proxiedAddress } from './proxy-protocol.js';

/** Per-connection state, attached to the aedes client once it has authenticated. */
export interface DeviceSession {
  device: DeviceIdentity;
  ip: string;
  connectedAt: number;
  /** Set when a newer connection of the same device took over: its close is no offline event. */
  replaced: boolean;
  /** Why the broker closed the connection, when it did (logged and recorded). */
  closeReason: string | null;
  keepaliveTimedOut: boolean;
  /** Last time an activity message was enqueued (PINGREQ coalescing). */
  lastActivityAt: number;
  rate: TokenBucket;
  log: Logger;
}

/**
 * A session whose `log` is a fresh pino child on each use rather than one held per
 * connection (~0.3 KiB for the connection's life; a session logs a few lines in all).
 */
class Session implements DeviceSession {
  replaced = false;
  closeReason: string | null = null;
  keepaliveTimedOut = false;
  lastActivityAt: number;
  constructor(
    public device: DeviceIdentity,
    public ip: string,
    public connectedAt: number,
    public rate: TokenBucket,
    private readonly logger: Logger,
  ) {
    this.lastActivityAt = connectedAt;
  }

  get log(): Logger {
    return this.logger.child({ deviceId: this.device.id });
  }
}

export function newDeviceSession(
  device: DeviceIdentity,
  ip: string,
  now: number,
  rate: TokenBucket,
  logger: Logger,
): DeviceSession {
  return new Session(device, ip, now, rate, logger);
}

export type GatewayClient = Client & {
  spms?: DeviceSession;
  /** The CONNECT's client id as sent (aedes replaces an empty one with a generated id). */
  spmsClientId?: string;
};

export interface GatewayContext {
  config: BrokerConfig;
  logger: Logger;
  producer: IngestProducer;
  auth: DeviceAuthenticator;
  pool: Pool;
  metrics: GatewayMetrics;
  /** Per source address, shared by all broker processes through Redis (limits.ts). */
  connectLimiter: SharedKeyedLimiter;
  authFailureLimiter: SharedKeyedLimiter;
  /** Provisioning requests per source address and devices created per profile (provision.ts; the API's keys). */
  provisionAddressLimiter: SharedKeyedLimiter;
  provisionCreateLimiter: SharedKeyedLimiter;
  /** Tells every process a device's credentials changed (@spms/device-auth announceCredentialsChange). */
  announceCredentialsChange(deviceId: string): Promise<void>;
  /** Live connection per device id (one session per device). */
  devices: Map<string, GatewayClient>;
  connectedClients(): number;
  /** Records in Redis that this session holds the device, replacing other brokers' (session-claims.ts). */
  claimSession(client: GatewayClient): void;
  /** A CONNECT was answered, accepted or refused (storm-gc.ts counts them). */
  connectAnswered(accepted: boolean): void;
  /** The session ended: its record goes unless a newer session replaced it. */
  releaseSession(client: GatewayClient): void;
}

/** Source address of a connection (TCP, TLS or WebSocket): the device's, from a PROXY header when one was read. */
export function remoteAddress(client: Client): string {
  const conn = client.conn as { remoteAddress?: string };
  return (
    proxiedAddress(conn) ??
    proxiedAddress(client.req?.socket) ??
    conn.remoteAddress ??
    client.req?.socket?.remoteAddress ??
    'unknown'
  );
}
