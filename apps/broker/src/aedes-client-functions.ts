/**
 * aedes 1.2's client functions that its Client constructor makes as closures per connection
 * (nextBatch, deliverQoS0, deliverQoS and what they call), as functions shared by all
 * connections that read their client from `this`; slim-client.ts binds them once per client
 * where aedes hands them out unbound. Adapted from aedes 1.2.0 lib/client.js (MIT License,
 * Copyright (c) Aedes Contributors, Copyright (c) 2015-2020 Matteo Collina); aedes' own
 * `write`, `QoSPacket` and aedes-packet's `Packet` are used as they are, loaded from aedes'
 * folder (its package exports only its entry). Also: the parts of aedes' client used by
 * slim-client.ts, as types.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { pathToFileURL } from 'node:url';
import type { Aedes } from 'aedes';

/** The parts of aedes' client (lib/client.js) this module touches. */
export interface AedesClient {
  conn: Duplex & { client: AedesClient };
  _parser: AedesParser;
  broker: Aedes & { persistence: AedesPersistence };
  id: string | null;
  clean: boolean;
  closed: boolean;
  _paused?: boolean;
  _parsingBatch: number;
  _nextBatch: (err?: Error) => void;
  deliver0: Deliver;
  deliverQoS: Deliver;
  _onError(err?: Error | null): void;
  _eos: () => void;
  subscriptions: Record<string, unknown>;
  duplicates: Record<string, number>;
  _inboundInflight: { size: number; has(id: number): boolean; add(id: number): unknown; delete(id: number): boolean };
  emit(event: 'error', err: Error): boolean;
  close(done?: () => void): void;
}

/** mqtt-packet's Parser, as far as used here. */
export interface AedesParser extends NodeJS.EventEmitter {
  client: AedesClient;
  settings: object;
  _states: string[];
  parse(buf: Buffer): number;
  /** The packet being parsed; a fresh one (`length` -1) after each packet. */
  packet: { length: number };
  _list: { length: number };
  _stateCounter: number;
  error: Error | null;
}

/** An aedes packet on its way to a subscriber (aedes-packet's Packet, or a QoSPacket). */
export interface OutPacket {
  topic: string;
  qos: number;
  retain?: boolean;
  clientId?: string;
  nl?: boolean;
  brokerId?: string;
  brokerCounter: number;
  writeCallback?: (this: OutPacket) => void;
}
export type Deliver = (packet: OutPacket, cb: () => void) => void;

export interface AedesPersistence {
  outgoingUpdate(client: AedesClient, packet: OutPacket): Promise<unknown>;
  outgoingClearMessageId(client: AedesClient, packet: OutPacket): Promise<unknown>;
}

type Done = (err?: Error | null) => void;

/** aedes' own modules that its client uses (not exported: loaded from aedes' folder). */
export interface AedesInternals {
  Packet: new (original: OutPacket, broker: Aedes) => OutPacket;
  QoSPacket: new (original: OutPacket, client: AedesClient) => OutPacket;
  write: (client: AedesClient, packet: object, done: Done) => void;
  /** lib/handlers/index.js: every packet's handler (aedes-connect.ts takes the CONNECT). */
  handle: (client: AedesClient, packet: { cmd: string }, done: Done) => void;
  /** lib/handlers/subscribe.js (restoring a clean=false session's subscriptions). */
  handleSubscribe: (client: AedesClient, packet: { subscriptions: unknown[] }, restore: boolean, done: Done) => void;
  /** lib/utils.js */
  runSeries: (state: object, actions: unknown[], arg: object, done: (this: never, err?: Error | null) => void) => void;
  through: (transform: (chunk: never, enc: string, next: Done) => void) => NodeJS.ReadWriteStream;
}

async function loadAedes(): Promise<{ version: string; internals: AedesInternals | null }> {
  try {
    const main = createRequire(import.meta.url).resolve('aedes');
    const dir = dirname(main);
    const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string };
    // Exactly the release these functions were copied from: a patch release may change them
    // without changing the client's layout; then aedes runs unslimmed (logged once) and
    // slim-client.test.ts fails until they are compared again.
    if (version !== '1.2.0') return { version, internals: null };
    // The same module instances aedes' client imports (same files, so the same URLs).
    const lib = (file: string) => import(pathToFileURL(join(dir, 'lib', file)).href);
    const [write, qos, handlers, subscribe, utils] = await Promise.all([
      lib('write.js'),
      lib('qos-packet.js'),
      lib('handlers/index.js'),
      lib('handlers/subscribe.js'),
      lib('utils.js'),
    ]);
    const Packet = createRequire(main)('aedes-packet') as AedesInternals['Packet'];
    return {
      version,
      internals: {
        Packet,
        QoSPacket: qos.default,
        write: write.default,
        handle: handlers.default,
        handleSubscribe: subscribe.default,
        runSeries: utils.runSeries,
        through: utils.through,
      },
    };
  } catch {
    return { version: 'unknown', internals: null };
  }
}

const aedes = await loadAedes();
/** The aedes version found; the shared functions below mirror aedes 1.2's client. */
export const AEDES_VERSION = aedes.version;
export const AEDES_SUPPORTED = aedes.internals !== null;
/** aedes' own modules, when AEDES_SUPPORTED (aedes-connect.ts). */
export const AEDES_INTERNALS = aedes.internals;

/** aedes `nextBatch`: after a packet is handled, parse what the socket has buffered. */
export function nextBatch(this: AedesClient, err?: Error): void {
  if (err) {
    this.emit('error', err);
    return;
  }
  if (this._paused) return;
  this._parsingBatch--;
  if (this._parsingBatch <= 0) {
    this._parsingBatch = 0;
    const buf = this.conn.read() as Buffer | null; // aedes: read(null), the same (all buffered)
    if (buf) parse(this._parser, buf);
  }
}

/**
 * An idle connection's parser holds no packet: mqtt-packet makes a fresh Packet (128 B) after
 * each one and keeps it until bytes come. Between packets (every byte consumed, none of the
 * next parsed) it is set aside for a shared placeholder, and a fresh one is put back before
 * the next parse. Only `parse`, called only here, reads the parser's packet; the placeholder
 * is frozen, so a path that did otherwise would fail loudly instead of sharing state.
 */
const IDLE_PACKET = Object.freeze({ length: -1 });
let PacketClass: (new () => AedesParser['packet']) | undefined;

function parse(parser: AedesParser, buf: Buffer): void {
  if (parser.packet === IDLE_PACKET) parser.packet = new (PacketClass as new () => AedesParser['packet'])();
  parser.parse(buf);
  const fresh = parser.packet;
  if (fresh !== IDLE_PACKET && fresh.length === -1 && parser._stateCounter === 0 && parser._list.length === 0) {
    if (parser.error) return;
    PacketClass ??= fresh.constructor as new () => AedesParser['packet'];
    parser.packet = IDLE_PACKET;
  }
}

/** aedes `getToForwardPacket`: no-local [MQTT-3.8.3-3], de-duplication, authorizeForward. */
function toForward(client: AedesClient, packet: OutPacket): OutPacket | null | undefined | false {
  if (packet.clientId === client.id && packet.nl) return undefined;
  return (
    dedupe(client, packet) && (client.broker.authorizeForward(client as never, packet as never) as OutPacket | null)
  );
}

/** aedes `dedupe`: a packet counter per originating broker, the same packet only once. */
function dedupe(client: AedesClient, packet: OutPacket): boolean {
  const id = packet.brokerId;
  if (!id) return true;
  const result = (client.duplicates[id] || 0) < packet.brokerCounter;
  if (result) client.duplicates[id] = packet.brokerCounter;
  return result;
}

/** aedes `deliverQoS0`. */
export function deliverQoS0(this: AedesClient, original: OutPacket, cb: () => void): void {
  const forward = toForward(this, original);
  if (forward) {
    // aedes: give Node some time to clear stacks under very high load
    setImmediate(writeQoS0, this, forward, cb);
  } else {
    setImmediate(cb);
  }
}

function writeQoS0(client: AedesClient, forward: OutPacket, cb: () => void): void {
  const { Packet, write } = aedes.internals as AedesInternals;
  const packet = new Packet(forward, client.broker);
  packet.qos = 0;
  write(client, packet, (err) => {
    client._onError(err);
    cb(); // aedes: no error here, or mqemitter throws it
  });
}

/** aedes `deliverQoS`. */
export function deliverQoS(this: AedesClient, original: OutPacket, cb: () => void): void {
  if (original.qos === 0) {
    this.deliver0(original, cb); // downgraded by the publish
    return;
  }
  const forward = toForward(this, original);
  if (forward) {
    setImmediate(prepareQoS, this, forward, cb);
  } else if (this.clean === false) {
    // aedes: an error, since the packet is undefined and there is nothing to send
    this.broker.persistence.outgoingClearMessageId(this, original).then(noop, noop);
    setImmediate(cb);
  } else {
    setImmediate(cb);
  }
}

function prepareQoS(client: AedesClient, forward: OutPacket, cb: () => void): void {
  const packet = new (aedes.internals as AedesInternals).QoSPacket(forward, client);
  // downgraded to the client's subscription's QoS
  const sub = client.subscriptions[packet.topic] as { qos?: number } | undefined;
  if (sub && (sub.qos || 0) < packet.qos) packet.qos = sub.qos as number;
  const queued = packet as OutPacket & { writeCallback(): void };
  queued.writeCallback = cb;
  // As in aedes, what the update resolves to is passed on as the error.
  const doWriteQoS = (err: unknown = null) => writeQoS(err, client, queued);
  if (client.clean || packet.retain) doWriteQoS();
  else client.broker.persistence.outgoingUpdate(client, packet).then(doWriteQoS, doWriteQoS);
}

/** aedes `writeQoS`; the write callback is called on the packet (persistent-delivery.ts reads its id). */
function writeQoS(err: unknown, client: AedesClient, packet: OutPacket & { writeCallback(): void }): void {
  if (err) {
    client.emit('error', err as Error);
    packet.writeCallback(); // aedes: no error here, or mqemitter throws it
  } else {
    (aedes.internals as AedesInternals).write(client, packet, (err) => {
      if (err) client.emit('error', err);
      packet.writeCallback();
    });
  }
}

function noop(): void {}
