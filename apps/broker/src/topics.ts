/**
 * ThingsBoard's device topics (docs/thingsboard-compatibility.md). Every device uses the same literal
 * `v1/devices/me/...` names, so the broker never routes a device's publish by topic:
 * publishes are diverted to a private sink after the durable hand-off, and subscriptions
 * are rewritten into a per-device namespace (see authorize-subscribe.ts).
 */

export const TELEMETRY = 'v1/devices/me/telemetry';
export const ATTRIBUTES = 'v1/devices/me/attributes';
export const ATTRIBUTES_REQUEST = 'v1/devices/me/attributes/request/';
export const ATTRIBUTES_RESPONSE = 'v1/devices/me/attributes/response/';
export const RPC_REQUEST = 'v1/devices/me/rpc/request/';
export const RPC_RESPONSE = 'v1/devices/me/rpc/response/';
export const CLAIM = 'v1/devices/me/claim';
/** ThingsBoard's firmware chunks (firmware.ts): request and response ids are decimal digits. */
export const FW_RESPONSE = 'v2/fw/response/';
export const FW_ERROR = 'v2/fw/error';
const FW_REQUEST = /^v2\/fw\/request\/(\d{1,10})\/chunk\/(\d{1,10})$/;

/** Where accepted device publishes go inside aedes: no subscription can ever match it. */
export const SINK_TOPIC = '$spms/sink';
/** Per-device subscription namespace; `$` topics are never matched by wildcards [MQTT-4.7.2-1]. */
export const DEVICE_NS = '$spms/d/';

export type PublishKind =
  | { kind: 'telemetry' }
  | { kind: 'attributes' }
  | { kind: 'attributes_request'; requestId: string }
  | { kind: 'rpc_response'; requestId: string }
  | { kind: 'rpc_request'; requestId: string }
  | { kind: 'claim' }
  | { kind: 'fw_request'; requestId: string; chunk: number };

/** A request id is one topic level: digits in ThingsBoard's examples; we accept any level. */
function suffix(topic: string, prefix: string): string | null {
  if (!topic.startsWith(prefix)) return null;
  const rest = topic.slice(prefix.length);
  return rest.length > 0 && !rest.includes('/') ? rest : null;
}

/** The publish topics a device may use, or null for any other topic. */
export function classifyPublish(topic: string): PublishKind | null {
  if (topic === TELEMETRY) return { kind: 'telemetry' };
  if (topic === ATTRIBUTES) return { kind: 'attributes' };
  if (topic === CLAIM) return { kind: 'claim' };
  const fw = FW_REQUEST.exec(topic);
  if (fw) return { kind: 'fw_request', requestId: fw[1] as string, chunk: Number(fw[2]) };
  let id = suffix(topic, ATTRIBUTES_REQUEST);
  if (id !== null) return { kind: 'attributes_request', requestId: id };
  id = suffix(topic, RPC_RESPONSE);
  if (id !== null) return { kind: 'rpc_response', requestId: id };
  id = suffix(topic, RPC_REQUEST);
  if (id !== null) return { kind: 'rpc_request', requestId: id };
  return null;
}

/** The only filters a device may subscribe to (ThingsBoard's device API). */
export const ALLOWED_SUBSCRIPTIONS = new Set([
  ATTRIBUTES,
  `${ATTRIBUTES_RESPONSE}+`,
  `${RPC_REQUEST}+`,
  `${RPC_RESPONSE}+`,
  // ThingsBoard's filter, the Arduino SDK's `#` and the error topic (only ever this device's).
  `${FW_RESPONSE}+/chunk/+`,
  `${FW_RESPONSE}#`,
  FW_ERROR,
]);

export function deviceTopic(deviceId: string, topic: string): string {
  return `${DEVICE_NS}${deviceId}/${topic}`;
}

/** Splits `$spms/d/<deviceId>/<topic>`; null for any other topic. */
export function splitDeviceTopic(topic: string): { deviceId: string; topic: string } | null {
  if (!topic.startsWith(DEVICE_NS)) return null;
  const slash = topic.indexOf('/', DEVICE_NS.length);
  if (slash < 0) return null;
  return { deviceId: topic.slice(DEVICE_NS.length, slash), topic: topic.slice(slash + 1) };
}
