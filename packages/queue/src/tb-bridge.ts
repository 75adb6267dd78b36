/**
 * The cut-over bridge's Redis keys and status (apps/worker/src/bridge): what the workers
 * committed is appended to one stream that the bridge forwards to ThingsBoard; the bridge
 * leader writes a heartbeat with its status, which GET /api/system shows.
 */
import type { Redis } from 'ioredis';

/** Stream of messages to forward (entries are deleted once ThingsBoard acknowledged them). */
export const tbBridgeStreamKey = (prefix: string) => `${prefix}:tb-bridge:stream`;
/** Messages dropped because the backlog was full (a counter). */
export const tbBridgeDroppedKey = (prefix: string) => `${prefix}:tb-bridge:dropped`;
/** The one worker process that forwards (SET NX PX, renewed). */
export const tbBridgeLeaderKey = (prefix: string) => `${prefix}:tb-bridge:leader`;
/** The leader's heartbeat (JSON, with a TTL). */
export const tbBridgeStatusKey = (prefix: string) => `${prefix}:tb-bridge:status`;

export interface TbBridgeHeartbeat {
  /** ThingsBoard's MQTT address without credentials, e.g. mqtts://thingsboard.cloud:8883 */
  target: string;
  at: number;
  /** Devices with an open MQTT session to ThingsBoard. */
  connected: number;
  /** Devices whose next message is waiting for a retry (ThingsBoard down, refused, …). */
  retrying: number;
  forwarded: number;
  lastForwardedAt: number | null;
  lastError: string | null;
}

export interface TbBridgeStatus {
  /** `off`: no worker forwards (TB_BRIDGE_URL unset, or every worker down) and nothing waits. */
  state: 'off' | 'forwarding' | 'retrying' | 'stalled';
  /** Messages accepted by SPMS and not yet acknowledged by ThingsBoard. */
  backlog: number;
  /** Messages dropped because the backlog reached TB_BRIDGE_MAX_BACKLOG. */
  dropped: number;
  leader: TbBridgeHeartbeat | null;
}

export async function readTbBridgeStatus(redis: Redis, prefix: string): Promise<TbBridgeStatus> {
  const [backlog, dropped, beat] = await Promise.all([
    redis.xlen(tbBridgeStreamKey(prefix)),
    redis.get(tbBridgeDroppedKey(prefix)),
    redis.get(tbBridgeStatusKey(prefix)),
  ]);
  let leader: TbBridgeHeartbeat | null = null;
  try {
    leader = beat ? (JSON.parse(beat) as TbBridgeHeartbeat) : null;
  } catch {
    leader = null;
  }
  // No leader but messages waiting: the workers that feed the stream run, none forwards.
  const state = !leader ? (backlog > 0 ? 'stalled' : 'off') : leader.retrying > 0 ? 'retrying' : 'forwarding';
  return { state, backlog, dropped: Number(dropped ?? 0), leader };
}
