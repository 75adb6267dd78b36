/**
 * Server → device traffic between the operator API and whichever process serves the device
 * (an MQTT broker holding its session, or the HTTP device API's RPC long-poll), and the
 * device's answers back. Several processes of each kind share one Redis.
 *
 * Nothing here depends on a pub/sub message arriving: every message lives in a Redis key
 * that its receiver re-reads, and pub/sub only says "look now" (command-store.ts):
 * - a command is appended to the device's list `deviceCommandsKey` and the broker holding the
 *   device's session is told through its inbox set `gatewayInboxKey`; the broker drains the
 *   list on the wake-up, on its periodic sweep of the inbox (CROSS_PROCESS_SWEEP_MS), and
 *   when the device connects or subscribes. An HTTP long-poll re-reads the list on the
 *   wake-up and every sweep interval;
 * - an RPC answer is written to `rpcResponseKey` (created by the API that waits for it);
 *   the waiting API reads it on the wake-up and every sweep interval.
 *
 * Channels (wake-ups only; their content is a hint, never the data):
 * - `deviceCommandChannel(prefix)`  API → brokers, HTTP polls: the device id
 * - `rpcResponseChannel(prefix)`    broker/HTTP device API → APIs: `<deviceId>:<requestId>`
 * - `sessionClaimsChannel(prefix)`  broker → broker: a gateway id (apps/broker session-claims.ts)
 *
 * Offline devices: an RPC waits in the list until it expires (its timeout), so a device
 * that connects (MQTT) or polls (HTTP) in time gets it, as ThingsBoard delivers a pending
 * RPC; a shared-attribute push is queued only for a device with a live MQTT session (one
 * that is offline reads its shared attributes when it connects, as today).
 */
import type { TelemetryValue } from './contracts.js';

/** Longest a lost wake-up delays anything crossing processes: every receiver re-reads this often. */
export const CROSS_PROCESS_SWEEP_MS = 1000;

/** A shared-attribute push not taken by the device's session within this is dropped. */
export const ATTRIBUTE_PUSH_TTL_MS = 60_000;

/** Most commands kept per device; older ones are dropped first (an operator hammering an offline device). */
export const MAX_PENDING_COMMANDS = 1000;

export function deviceCommandChannel(prefix: string): string {
  return `${prefix}:device:cmd`;
}

export function rpcResponseChannel(prefix: string): string {
  return `${prefix}:device:rpc-response`;
}

/** broker → broker: the id of a broker whose inbox just got a takeover to look at. */
export function sessionClaimsChannel(prefix: string): string {
  return `${prefix}:broker:sessions`;
}

/**
 * Shared attributes changed: publish `payload` as-is (ThingsBoard format: the changed
 * keys, plus `"deleted": [...]` for removals) to `v1/devices/me/attributes`.
 */
export interface AttributesUpdateCommand {
  kind: 'attributes';
  deviceId: string;
  payload: Record<string, TelemetryValue> & { deleted?: string[] };
  /** Epoch ms after which the push is dropped (the device reads its attributes itself). */
  expiresAt: number;
}

/**
 * Server-side RPC: publish `{"method","params"}` to `v1/devices/me/rpc/request/<requestId>`.
 * The device answers on `v1/devices/me/rpc/response/<requestId>`; the broker stores that
 * answer under rpcResponseKey. `requestId` is a positive integer, as ThingsBoard's firmware
 * libraries parse it as one (INCR of rpcSequenceKey: unique across API processes).
 */
export interface RpcRequestCommand {
  kind: 'rpc';
  deviceId: string;
  requestId: number;
  method: string;
  params: TelemetryValue;
  /** Epoch ms after which nobody waits for the answer: don't deliver it any more. */
  expiresAt: number;
  /**
   * Set for a persistent RPC (a device_rpc row, docs/rpc.md): this entry is only a copy.
   * Whoever takes it claims the row (QUEUED → SENT) before publishing, with the method and
   * params the row holds; a copy whose row is no longer QUEUED is dropped.
   */
  rpcId?: string;
}

export type DeviceCommand = AttributesUpdateCommand | RpcRequestCommand;

export interface RpcResponse {
  deviceId: string;
  requestId: number;
  /** The device's response body, parsed leniently; the raw text when it is not JSON. */
  response: TelemetryValue;
}

/** MQTT payload of a server-side RPC (the id is in the topic), as ThingsBoard sends it. */
export function rpcMqttBody(cmd: RpcRequestCommand): { method: string; params: TelemetryValue } {
  return { method: cmd.method, params: cmd.params };
}

/** HTTP long-poll body of a server-side RPC (ThingsBoard adds the id). */
export function rpcHttpBody(cmd: RpcRequestCommand): { id: number; method: string; params: TelemetryValue } {
  return { id: cmd.requestId, method: cmd.method, params: cmd.params };
}

/** Commands not yet taken, per device: a Redis list of `DeviceCommand` JSON, oldest first. */
export function deviceCommandsKey(prefix: string, deviceId: string): string {
  return `${prefix}:device:cmds:${deviceId}`;
}

/**
 * Request ids of persistent RPCs come from PostgreSQL (device_rpc_request_seq) and start
 * here; those of non-persistent ones (rpcSequenceKey) stay below it, so an answer's id says
 * where to record it. Both fit the signed 32-bit int ThingsBoard's firmware libraries parse.
 */
export const PERSISTENT_RPC_ID_MIN = 1_000_000_000;

export const isPersistentRpcId = (requestId: number): boolean =>
  Number.isSafeInteger(requestId) && requestId >= PERSISTENT_RPC_ID_MIN && requestId <= 2_147_483_647;

/**
 * Devices that may have persistent RPCs waiting (QUEUED rows): a hint that spares a database
 * query per connect. Rebuilt from device_rpc by the API's RPC sweeper (a Redis flush loses
 * nothing but up to one sweep of delay); a member without waiting rows costs one query.
 */
export function rpcPendingDevicesKey(prefix: string): string {
  return `${prefix}:device:rpc-pending`;
}

/** INCR counter for RPC request ids, unique across API processes. */
export function rpcSequenceKey(prefix: string): string {
  return `${prefix}:device:rpc-seq`;
}

/**
 * The answer to one RPC: created empty by the API that waits (expiring with the wait), filled
 * by whoever relays the device's answer (SET XX: an answer nobody waits for is not stored).
 */
export function rpcResponseKey(prefix: string, deviceId: string, requestId: number): string {
  return `${prefix}:device:rpc-response:${deviceId}:${requestId}`;
}

/**
 * Which broker process holds each device's MQTT session: hash deviceId → `<gatewayId> <fence>`
 * (fence: a counter incremented by every claim, so a newer session always has another value).
 */
export function sessionOwnersKey(prefix: string): string {
  return `${prefix}:broker:session-owners`;
}

export function sessionFenceKey(prefix: string): string {
  return `${prefix}:broker:session-fence`;
}

/** Set while a broker process runs (refreshed every sweep): an owner record of a dead process is ignored. */
export function gatewayAliveKey(prefix: string, gatewayId: string): string {
  return `${prefix}:broker:gw:${gatewayId}:alive`;
}

/** Lifetime of gatewayAliveKey: several sweeps, so a busy moment does not make a broker look dead. */
export const GATEWAY_ALIVE_TTL_MS = 10_000;

/**
 * A broker process's to-do set: `c:<deviceId>` (commands waiting for a session it holds) and
 * `t:<deviceId>` (a session it holds may have been taken over). Drained on wake-up and on every sweep.
 */
export function gatewayInboxKey(prefix: string, gatewayId: string): string {
  return `${prefix}:broker:gw:${gatewayId}:inbox`;
}
