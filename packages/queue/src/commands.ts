/**
 * Server → device traffic, between the operator API (publisher) and the MQTT broker
 * (which delivers to the device's live session). Redis pub/sub: nothing here is durable —
 * a device that is not connected simply does not get the push (shared attributes are
 * stored in `device_attributes`, so the device can still ask for them; an RPC to an
 * offline device times out, as in ThingsBoard).
 *
 * Channels (all JSON):
 * - `deviceCommandChannel(prefix)`  API → broker: `DeviceCommand`
 * - `rpcResponseChannel(prefix)`    broker → API: `RpcResponse` (the device's answer)
 * The HTTP device API also consumes `DeviceCommand`s for its RPC long-poll.
 */
import type { TelemetryValue } from './contracts.js';

export function deviceCommandChannel(prefix: string): string {
  return `${prefix}:device:cmd`;
}

export function rpcResponseChannel(prefix: string): string {
  return `${prefix}:device:rpc-response`;
}

/**
 * Shared attributes changed: publish `payload` as-is (ThingsBoard format: the changed
 * keys, plus `"deleted": [...]` for removals) to `v1/devices/me/attributes`.
 */
export interface AttributesUpdateCommand {
  kind: 'attributes';
  deviceId: string;
  payload: Record<string, TelemetryValue> & { deleted?: string[] };
}

/**
 * Server-side RPC: publish `{"method","params"}` to `v1/devices/me/rpc/request/<requestId>`.
 * The device answers on `v1/devices/me/rpc/response/<requestId>`; the broker publishes
 * that answer as an `RpcResponse` on rpcResponseChannel. `requestId` is a positive
 * integer, as ThingsBoard's firmware libraries parse it as one; unique per API process
 * run is enough because the answer is matched by (deviceId, requestId).
 */
export interface RpcRequestCommand {
  kind: 'rpc';
  deviceId: string;
  requestId: number;
  method: string;
  params: TelemetryValue;
  /** Epoch ms after which nobody waits for the answer: don't deliver it any more. */
  expiresAt: number;
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

/**
 * Server-side RPCs not yet delivered, per device (a Redis list of `RpcRequestCommand`
 * JSON, expiring with the longest wait). HTTP devices poll (`GET /api/v1/<token>/rpc`) and
 * may not be waiting at the moment of the publish, so the API keeps the request here and
 * the poll pops it; the pub/sub message is the wake-up. MQTT delivery may ignore the list.
 */
export function pendingRpcKey(prefix: string, deviceId: string): string {
  return `${prefix}:device:rpc-pending:${deviceId}`;
}

/** INCR counter for RPC request ids, unique across API processes. */
export function rpcSequenceKey(prefix: string): string {
  return `${prefix}:device:rpc-seq`;
}
