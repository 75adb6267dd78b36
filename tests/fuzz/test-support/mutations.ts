/**
 * Fuzz inputs: valid MQTT packets (mqtt-packet) and the fleet's firmware payloads
 * (fixtures/), then byte-level mutations of them, as fast-check arbitraries so a failure
 * prints a seed that replays it.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import mqttPacket, { type Packet } from 'mqtt-packet';

const fixtures = new URL('../../../fixtures/', import.meta.url);
const mqttFirmware = JSON.parse(readFileSync(new URL('mqtt-firmware.json', fixtures), 'utf8')) as {
  messages: Array<{ payload: string }>;
};
const httpFirmware = JSON.parse(readFileSync(new URL('http-firmware.json', fixtures), 'utf8')) as {
  bodies: Array<{ body: string }>;
};

/** Every payload the deployed firmware sends (MQTT and HTTP). */
export const FIRMWARE_PAYLOADS: string[] = [
  ...mqttFirmware.messages.map((m) => m.payload),
  ...httpFirmware.bodies.map((b) => b.body),
];

type Mutation =
  | { op: 'flip'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; count: number }
  | { op: 'truncate'; at: number }
  | { op: 'repeat'; times: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 16 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('repeat' as const), times: fc.integer({ min: 2, max: 4 }) }),
);

export function applyMutations(input: Buffer, mutations: Mutation[]): Buffer {
  let buf = Buffer.from(input);
  for (const m of mutations) {
    const at = buf.length === 0 ? 0 : ('at' in m ? m.at : 0) % (buf.length + 1);
    if (m.op === 'flip' && buf.length > 0) buf[at % buf.length] = m.value;
    else if (m.op === 'insert') buf = Buffer.concat([buf.subarray(0, at), Buffer.from(m.bytes), buf.subarray(at)]);
    else if (m.op === 'delete') buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + m.count)]);
    else if (m.op === 'truncate') buf = buf.subarray(0, at);
    else if (m.op === 'repeat') buf = Buffer.concat(Array.from({ length: m.times }, () => buf));
  }
  return buf;
}

/** A byte string and 0–4 mutations of it (none: the input as is). */
export const mutated = (input: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> =>
  fc.tuple(input, fc.array(mutationArb, { maxLength: 4 })).map(([b, ms]) => applyMutations(b, ms));

const DEVICE_TOPICS = [
  'v1/devices/me/telemetry',
  'v1/devices/me/attributes',
  'v1/devices/me/attributes/request/1',
  'v1/devices/me/rpc/request/7',
  'v1/devices/me/rpc/response/3',
  'v1/devices/me/claim',
  '#',
  '$SYS/broker',
  '$spms/d/x/v1/devices/me/rpc/request/1',
];

const topicArb = fc.oneof(fc.constantFrom(...DEVICE_TOPICS), fc.string({ maxLength: 40 }));
const payloadArb = mutated(
  fc.oneof(
    fc.constantFrom(...FIRMWARE_PAYLOADS).map((p) => Buffer.from(p)),
    fc.uint8Array({ maxLength: 256 }).map((u) => Buffer.from(u)),
  ),
);

/** Valid MQTT 3.1.1 packets of every kind a device may send (and some it should not). */
export const packetArb: fc.Arbitrary<Packet> = fc.oneof(
  fc.record({
    cmd: fc.constant('publish' as const),
    topic: topicArb,
    payload: payloadArb,
    qos: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>,
    messageId: fc.integer({ min: 1, max: 65535 }),
    retain: fc.boolean(),
    dup: fc.boolean(),
  }),
  fc.record({
    cmd: fc.constant('subscribe' as const),
    messageId: fc.integer({ min: 1, max: 65535 }),
    subscriptions: fc.array(fc.record({ topic: topicArb, qos: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2> }), {
      minLength: 1,
      maxLength: 3,
    }),
  }),
  fc.record({
    cmd: fc.constant('unsubscribe' as const),
    messageId: fc.integer({ min: 1, max: 65535 }),
    unsubscriptions: fc.array(topicArb, { minLength: 1, maxLength: 3 }),
  }),
  fc.record({
    cmd: fc.constantFrom('puback' as const, 'pubrec' as const, 'pubrel' as const, 'pubcomp' as const),
    messageId: fc.integer({ min: 1, max: 65535 }),
  }),
  fc.constant({ cmd: 'pingreq' as const }),
  fc.constant({ cmd: 'disconnect' as const }),
) as fc.Arbitrary<Packet>;

export function connectPacket(username: string | undefined, clientId: string): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    clientId,
    keepalive: 30,
    ...(username !== undefined ? { username } : {}),
  });
}

/** What one fuzz connection sends after opening. */
export interface MqttSession {
  /** Authenticate first with a valid CONNECT (so packets reach the post-CONNECT code) or not. */
  validConnect: boolean;
  /** A CONNECT (possibly mutated) when validConnect is false. */
  connect: Buffer;
  packets: Buffer[];
}

export const mqttSessionArb = (token: string): fc.Arbitrary<MqttSession> =>
  fc.record({
    validConnect: fc.boolean(),
    connect: mutated(
      fc
        .tuple(
          fc.option(fc.constantFrom(token, 'wrong-token', 'provision', ''), { nil: undefined }),
          fc.string({ maxLength: 30 }),
        )
        .map(([u, id]) => connectPacket(u, id)),
    ),
    packets: fc.array(
      fc.oneof(
        { weight: 3, arbitrary: mutated(packetArb.map((p) => mqttPacket.generate(p))) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }).map((u) => Buffer.from(u)) },
      ),
      { maxLength: 6 },
    ),
  });

/** An HTTP device-API request: method, path under /api/v1, content type, body. */
export const httpRequestArb = (token: string) =>
  fc.record({
    method: fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE'),
    token: fc.oneof(
      { weight: 4, arbitrary: fc.constant(token) },
      { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/) },
    ),
    path: fc.oneof(
      fc.constantFrom('telemetry', 'attributes', 'rpc', 'rpc/5', 'claim', 'attributes?clientKeys=a,b', 'rpc?timeout=1'),
      fc.stringMatching(/^[a-z/?=&%0-9]{0,30}$/),
    ),
    contentType: fc.constantFrom(
      'application/json',
      'text/plain',
      'application/octet-stream',
      'application/x-www-form-urlencoded',
      '',
    ),
    body: payloadArb,
  });
