/**
 * Memory per connection (issue 13, docs/broker-memory.md). aedes 1.2's Client constructor
 * gives every connection functions of its own, kept for the connection's life: bound
 * `emit`/`close` listeners on the socket and the parser, closures `nextBatch`, `deliverQoS0`,
 * `deliverQoS` and `getToForwardPacket` with their scope, and `stream.finished()` on the
 * socket (seven closures and their scope, only to call `close` once); plus two empty
 * null-prototype maps and two listener tables (dictionary-mode objects, ~180 B each however
 * empty), an empty Set; the parser keeps the whole CONNECT packet as its `settings` and an
 * empty Packet for bytes to come (aedes-client-functions.ts lets that one go while idle).
 *
 * `slimClient` runs right after aedes built a client, before its first read (aedes reads on
 * the socket's 'readable', a later tick), and puts in their place functions shared by all
 * connections, which find their client through `this` (aedes sets `conn.client` and
 * `parser.client`), and equivalents that cost nothing until used. Behaviour stays aedes'
 * own: the shared listeners call the same client methods on the same events, in the same
 * order; `finished()`'s net effect on a socket or WebSocket stream is "close the client on
 * 'error' or 'close'" ('end' is aedes' own listener), and so is its replacement.
 *
 * Pinned to aedes 1.2.0 (the release its shared functions copy): the version is checked once and the client's layout every time;
 * a client that does not look as expected is left as aedes made it (logged once), so an
 * aedes upgrade can cost memory but not behaviour (slim-client.test.ts fails then).
 */
import type { Client } from 'aedes';
import {
  AEDES_SUPPORTED,
  AEDES_VERSION,
  type AedesClient,
  type AedesParser,
  deliverQoS,
  deliverQoS0,
  nextBatch,
} from './aedes-client-functions.js';
import { enqueue } from './aedes-connect.js';

type Listener = (...args: unknown[]) => void;

// ---- Listeners shared by all connections (`this` is the socket or the parser).

/** aedes: `conn.on('readable', nextBatch)`. */
function onReadable(this: { client: AedesClient }): void {
  this.client._nextBatch();
}

/**
 * aedes: `conn.on('error', this.emit.bind(this, 'error'))`, then finished()'s error listener
 * (→ `close`). The emit closes the client through aedes' `_onError`; the second call is the
 * no-op it was.
 */
function onConnError(this: { client: AedesClient }, err: Error): void {
  const client = this.client;
  client.emit('error', err);
  client.close();
}

/** aedes: `conn.on('end', this.close.bind(this))`, and finished()'s 'close' listener. */
function closeClient(this: { client: AedesClient }): void {
  this.client.close();
}

/** aedes: `this._parser.on('error', this.emit.bind(this, 'error'))`. */
function onParserError(this: AedesParser, err: Error): void {
  this.client.emit('error', err);
}

/** Stands for finished()'s cleanup, which aedes' `close` calls: the shared listeners need none. */
function noCleanup(): void {}

function closeLater(client: AedesClient): void {
  client.close();
}

// ---- Smaller equivalents of the client's empty containers.

/**
 * A map with no inherited keys, like aedes' `Object.create(null)` (a topic filter or broker
 * id named 'constructor' or '__proto__' reads back absent), but in V8's fast mode: an empty
 * one is a header, not a 160-byte dictionary. Keys added later behave as in any object.
 */
const NO_INHERITED_KEYS: object = Object.freeze(Object.create(null));
/** Made by `new`: V8 then gives an empty one no in-object slots (24 B; Object.create: 56 B). */
const EmptyMap = function EmptyMap() {} as unknown as new () => Record<string, never>;
EmptyMap.prototype = NO_INHERITED_KEYS;

/**
 * aedes' inbound QoS 2 window (`_inboundInflight`, a Set per client, only ever used through
 * has/add/delete/size): the Set is made at the first QoS 2 PUBLISH. Devices send QoS 0/1.
 */
class LazySet<T> {
  private set: Set<T> | undefined;
  get size(): number {
    return this.set?.size ?? 0;
  }
  has(value: T): boolean {
    return this.set?.has(value) ?? false;
  }
  add(value: T): this {
    this.set ??= new Set();
    this.set.add(value);
    return this;
  }
  delete(value: T): boolean {
    return this.set?.delete(value) ?? false;
  }
}

/**
 * The parser's `settings` after the CONNECT: mqtt-packet reads only `protocolVersion` and
 * `bridgeMode` from it (and replaces it at the next CONNECT), so one shared frozen object per
 * combination stands for each connection's CONNECT packet (username, client id, will, …).
 */
const settingsCache = new Map<string, object>();
export function sharedSettings(packet: { protocolVersion?: number; bridgeMode?: boolean }): object {
  const key = `${packet.protocolVersion}/${packet.bridgeMode === true}`;
  let s = settingsCache.get(key);
  if (!s) {
    s = Object.freeze({ protocolVersion: packet.protocolVersion, bridgeMode: packet.bridgeMode === true });
    settingsCache.set(key, s);
  }
  return s;
}

/**
 * Called by the parser's first 'packet' listener (client-guards.ts) with the CONNECT it
 * parsed: the parser's `settings` stop holding it.
 */
export function forgetConnectPacket(
  parser: { settings: object },
  connect: { protocolVersion?: number; bridgeMode?: boolean },
): void {
  if (parser.settings === connect) parser.settings = sharedSettings(connect);
}

/**
 * An emitter's listener table in fast mode. Node makes it `{ __proto__: null }`, a dictionary
 * (~180 B) however few events it holds; the copy has the same own keys and values and no
 * inherited ones, which is all EventEmitter relies on. `last` is put last: deleting the
 * property added last keeps an object fast (aedes' client removes its once('connected')
 * listener at CONNACK).
 */
function fastListenerTable(emitter: NodeJS.EventEmitter, last?: string): void {
  const e = emitter as unknown as { _events?: Record<string | symbol, unknown> };
  const old = e._events;
  if (!old || Object.getPrototypeOf(old) !== null) return;
  const table: Record<string | symbol, unknown> = Object.create(NO_INHERITED_KEYS);
  for (const key of Reflect.ownKeys(old)) if (key !== last) table[key] = old[key];
  if (last !== undefined && last in old) table[last] = old[last];
  e._events = table;
}

/** mqtt-packet's parser states: read-only, the same list in every parser. */
const PARSER_STATES = Object.freeze(['_parseHeader', '_parseLength', '_parsePayload', '_newPacket']);

// ---- The swap.

const last = (emitter: NodeJS.EventEmitter, event: string, back = 1) => {
  const all = emitter.listeners(event) as Listener[];
  return all[all.length - back];
};

/** Whether the client is laid out as aedes 1.2 builds it (fresh, nothing read yet). */
function expectedLayout(c: AedesClient): boolean {
  const conn = c.conn;
  const parser = c._parser;
  return (
    conn?.client === c &&
    parser?.client === c &&
    typeof c._eos === 'function' &&
    typeof c._nextBatch === 'function' &&
    last(conn, 'readable') === c._nextBatch &&
    last(conn, 'error', 2)?.name === 'bound emit' &&
    last(conn, 'error')?.name === 'onerror' &&
    last(conn, 'end', 2)?.name === 'bound close' &&
    last(conn, 'end')?.name === 'onend' &&
    last(conn, 'finish')?.name === 'onfinish' &&
    last(conn, 'close')?.name === 'onclose' &&
    last(parser, 'error')?.name === 'bound emit' &&
    parser.listenerCount('packet') === 1 &&
    last(parser, 'packet')?.name === 'enqueue' &&
    Object.keys(c.subscriptions).length === 0 &&
    Object.keys(c.duplicates).length === 0 &&
    c._inboundInflight instanceof Set &&
    c._inboundInflight.size === 0 &&
    Array.isArray(parser._states) &&
    parser._states.join() === PARSER_STATES.join()
  );
}

let warned = false;

/**
 * Replaces the per-connection functions and containers of a client aedes just built (see
 * above). Returns false, changing nothing, when the client is not laid out as expected.
 */
export function slimClient(client: Client, warn: (msg: string) => void = () => {}): boolean {
  const c = client as unknown as AedesClient;
  if (!AEDES_SUPPORTED || !expectedLayout(c)) {
    if (!warned) {
      warned = true;
      warn(
        `aedes ${AEDES_VERSION}: client layout not the one slim-client.ts expects; per-connection memory not reduced`,
      );
    }
    return false;
  }
  const conn = c.conn;
  const parser = c._parser;
  const boundEmit = last(conn, 'error', 2) as Listener;
  const boundClose = last(conn, 'end', 2) as Listener;
  const parserEmit = last(parser, 'error') as Listener;

  c._eos(); // removes finished()'s onend, onfinish, onerror and onclose
  c._eos = noCleanup;
  conn.removeListener('readable', c._nextBatch);
  c._nextBatch = nextBatch.bind(c);
  c.deliver0 = deliverQoS0.bind(c);
  c.deliverQoS = deliverQoS.bind(c);
  conn.removeListener('error', boundEmit);
  conn.removeListener('end', boundClose);
  conn.on('readable', onReadable);
  conn.on('error', onConnError);
  conn.on('end', closeClient);
  conn.on('close', closeClient);
  // finished() closes the client on the next tick when the stream has already closed.
  const state = conn as unknown as { _readableState?: { closed?: boolean }; _writableState?: { closed?: boolean } };
  if (state._readableState?.closed || state._writableState?.closed) process.nextTick(closeLater, c);

  parser.removeListener('error', parserEmit);
  parser.on('error', onParserError);
  // aedes' own `enqueue`, with its CONNECT handling adapted (aedes-connect.ts).
  parser.removeListener('packet', last(parser, 'packet') as Listener);
  parser.on('packet', enqueue);
  parser._states = PARSER_STATES as string[];

  fastListenerTable(parser);
  fastListenerTable(client as unknown as NodeJS.EventEmitter, 'connected');

  c.subscriptions = new EmptyMap();
  c.duplicates = new EmptyMap();
  c._inboundInflight = new LazySet<number>();
  return true;
}
