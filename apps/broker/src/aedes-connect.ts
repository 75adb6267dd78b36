/**
 * aedes 1.2's CONNECT handling (lib/handlers/connect.js), adapted in one place: a clean
 * session with nothing queued for it skips `emptyQueue`'s stream pipeline.
 *
 * After the CONNACK, aedes pipes the client's outgoing queue (QoS 1/2 messages stored for a
 * clean=false session while it was away) through a Transform, for every CONNECT. For a clean
 * session it only clears what it finds, and in this broker nothing is ever queued for most
 * clients — yet the pipeline (a Readable, a Transform, their end-of-stream listeners, an
 * AbortController and the DOMException of its abort at the end) was a quarter of a broker's
 * CPU per connect in a reconnect storm (0.83 → 0.62 ms, bench/connect-cpu.mjs). Entries are
 * only ever added to a client id's queue by `outgoingEnqueue` (a clean=false client's own
 * QoS 1/2 delivery) and `outgoingEnqueueCombi` (a message for offline clean=false
 * subscribers); every client id they name is noted (outgoing-queue.ts), and only a clean
 * session whose id was never named skips the pipeline — which would have found its queue
 * empty. Only with aedes' in-memory persistence (the broker's): another one is not tracked,
 * and nothing skips. Everything else, in the same order with the same arguments, is aedes' own; its
 * modules (write, QoSPacket, utils, the subscribe handler) are used as they are.
 *
 * Adapted from aedes 1.2.0 lib/handlers/connect.js and lib/client.js `enqueue` (MIT License,
 * Copyright (c) Aedes Contributors, Copyright (c) 2015-2020 Matteo Collina). slim-client.ts
 * installs `enqueue` in place of aedes' on each client it slims (same version pin).
 */
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream';
import { AEDES_INTERNALS, type AedesClient, type AedesInternals, type OutPacket } from './aedes-client-functions.js';
import { type ConnectPersistence, neverQueuedFor } from './outgoing-queue.js';

type Done = (err?: Error | null) => void;

/** The CONNECT as mqtt-packet parses it (the fields read here). */
interface ConnectPacket {
  cmd: 'connect';
  clientId: string;
  protocolVersion: number;
  clean: boolean;
  keepalive: number;
  username?: string;
  password?: Buffer;
  will?: unknown;
}

/** The parts of aedes' client, broker and persistence that CONNECT handling touches. */
interface ConnectingClient extends AedesClient {
  connecting: boolean;
  connected: boolean;
  connackSent: boolean;
  _connectTimer: NodeJS.Timeout | null;
  _keepaliveInterval: number;
  _keepaliveTimer: NodeJS.Timeout | null;
  _authorized: boolean;
  version: number;
  will: unknown;
  _will: unknown;
  pause(): void;
  resume(): void;
  broker: AedesClient['broker'] & ConnectingBroker;
}
interface ConnectingBroker {
  closed: boolean;
  maxClientsIdLength: number;
  keepaliveLimit: number;
  queueLimit: number;
  preConnect(client: unknown, packet: ConnectPacket, done: (err: Error | null, ok: boolean) => void): void;
  authenticate(
    client: unknown,
    username: string | undefined,
    password: Buffer | undefined,
    done: (err: (Error & { returnCode?: number }) | null, ok: boolean | null) => void,
  ): void;
  authorizeForward(client: unknown, packet: OutPacket): unknown;
  registerClient(client: unknown): void;
  emit(event: string, ...args: unknown[]): boolean;
  persistence: ConnectPersistence;
}
const internals = () => AEDES_INTERNALS as AedesInternals;

class Connack {
  cmd = 'connack';
  returnCode: number;
  sessionPresent: boolean;
  constructor(arg: ConnectArg) {
    this.returnCode = arg.returnCode;
    this.sessionPresent = arg.sessionPresent;
  }
}

interface ConnectArg {
  returnCode: number;
  sessionPresent: boolean;
  client?: ConnectingClient;
  subs?: unknown[] | null;
}

/** `this` of every connect action (aedes' ClientPacketStatus). */
interface Status {
  client: ConnectingClient;
  packet: ConnectPacket;
}
type Action = (this: Status, arg: ConnectArg, done: Done) => void;

const errorMessages = [
  '',
  'unacceptable protocol version',
  'identifier rejected',
  'Server unavailable',
  'bad user name or password',
  'not authorized',
  'keep alive limit exceeded',
];

/** aedes `enqueue`: the parser's 'packet' listener (`this` is the parser). */
export function enqueue(
  this: { client: ConnectingClient; _queue: unknown[] | null; emit(e: 'error', err: Error): boolean },
  packet: { cmd: string },
): void {
  const client = this.client;
  client._parsingBatch++;
  const next = client._nextBatch as Done; // aedes passes it as it is (null reads as no error)
  // already connected or it's the first packet
  if (client.connackSent || client._parsingBatch === 1) {
    if (packet.cmd === 'connect' && !client.connecting && !client.connected)
      handleConnect(client, packet as ConnectPacket, next);
    else internals().handle(client, packet, next);
  } else if ((this._queue as unknown[]).length < client.broker.queueLimit) {
    (this._queue as unknown[]).push(packet);
  } else {
    this.emit('error', new Error('Client queue limit reached'));
  }
}

function handleConnect(client: ConnectingClient, packet: ConnectPacket, done: Done): void {
  if (client._connectTimer) clearTimeout(client._connectTimer);
  client._connectTimer = null;
  client.connecting = true;
  client.broker.preConnect(client, packet, (err, successful) => {
    if (!err && successful === true) setImmediate(init, client, packet, done);
    else {
      client.connecting = false;
      done(err);
    }
  });
}

function init(client: ConnectingClient, packet: ConnectPacket, done: Done): void {
  const clientId = packet.clientId;
  let returnCode = 0;
  // [MQTT-3.1.2-2]
  if (packet.protocolVersion < 3 || packet.protocolVersion > 4) returnCode = 1;
  // MQTT 3.1.0 allows <= 23 client id length
  if (packet.protocolVersion === 3 && clientId.length > client.broker.maxClientsIdLength) returnCode = 2;
  // check if the client keepalive is compatible with broker settings
  if (client.broker.keepaliveLimit && (!packet.keepalive || packet.keepalive > client.broker.keepaliveLimit))
    returnCode = 6;
  if (returnCode > 0) {
    const error = Object.assign(new Error(errorMessages[returnCode]), { errorCode: returnCode });
    doConnack(client, { client, returnCode, sessionPresent: false }, () => done(error));
    return;
  }

  client.id = clientId || `aedes_${randomUUID()}`;
  client.clean = packet.clean;
  client.version = packet.protocolVersion;
  client._will = packet.will;

  internals().runSeries(
    { client, packet },
    connectActions,
    { returnCode: 0, sessionPresent: false }, // [MQTT-3.1.4-4], [MQTT-3.2.2-4]
    function (this: Status, err?: Error | null) {
      this.client.connecting = false;
      if (!err) {
        this.client.connected = true;
        this.client.broker.emit('clientReady', client);
        (this.client as unknown as NodeJS.EventEmitter).emit('connected');
      }
      done(err);
    } as (this: never, err?: Error | null) => void,
  );
}

const authenticate: Action = function (arg, done) {
  const client = this.client;
  client.pause();
  client.broker.authenticate(client, this.packet.username, this.packet.password, (err, successful) => {
    if (client.closed || client.broker.closed) {
      // a hack, sometimes client.close() or broker.close() happened
      // before authenticate() comes back
      // we stop here for not to register it and deregister it in write()
      return;
    }
    if (!err && successful) {
      client._authorized = true;
      return done();
    }
    let error: Error & { returnCode?: number; errorCode?: number };
    if (err) {
      const errCode = err.returnCode;
      arg.returnCode = errCode && errCode >= 2 && errCode <= 5 ? errCode : 5;
      if (!err.message) err.message = errorMessages[arg.returnCode] as string;
      error = err;
    } else {
      arg.returnCode = 5;
      error = new Error(errorMessages[arg.returnCode]);
    }
    error.errorCode = arg.returnCode;
    arg.client = client;
    // [MQTT-3.2.2-5]
    doConnack(client, arg, () => client.close(() => done(error)));
  });
};

const setKeepAlive: Action = function (_arg, done) {
  if (this.packet.keepalive > 0) {
    const client = this.client;
    // [MQTT-3.1.2-24]
    client._keepaliveInterval = this.packet.keepalive * 1500 + 1;
    client._keepaliveTimer = setTimeout(() => {
      client.broker.emit('keepaliveTimeout', client);
      client.emit('error', new Error('keep alive timeout'));
    }, client._keepaliveInterval);
  }
  done();
};

const fetchSubs: Action = function (arg, done) {
  const client = this.client;
  if (!this.packet.clean) {
    client.broker.persistence.subscriptionsByClient({ id: client.id as string }).then((subs) => {
      arg.subs = subs.length > 0 ? subs : null;
      done();
    }, done);
    return;
  }
  arg.sessionPresent = false; // [MQTT-3.2.2-1]
  client.broker.persistence.cleanSubscriptions(client).then(() => done(null), done);
};

const restoreSubs: Action = function (arg, done) {
  if (arg.subs) {
    internals().handleSubscribe(this.client, { subscriptions: arg.subs }, true, done);
    arg.sessionPresent = !!arg.subs; // cast to boolean, [MQTT-3.2.2-2]
    return;
  }
  arg.sessionPresent = false; // [MQTT-3.2.2-1], [MQTT-3.2.2-3]
  done();
};

const storeWill: Action = function (_arg, done) {
  const client = this.client;
  client.will = client._will;
  // delete any existing will messages from persistence
  client.broker.persistence.delWill(client).finally(() => {
    if (client.will) client.broker.persistence.putWill(client, client.will).then(() => done(null), done);
    else done();
  });
};

const registerClient: Action = function (_arg, done) {
  this.client.broker.registerClient(this.client);
  done();
};

// [MQTT-3.1.2-6]: the inbound QoS 2 dedup store is session state too (aedes: after registerClient).
const cleanIncoming: Action = function (_arg, done) {
  const client = this.client;
  if (!this.packet.clean) return done(null);
  const persistence = client.broker.persistence;
  Promise.resolve()
    .then(() => typeof persistence.cleanIncoming === 'function' && persistence.cleanIncoming(client))
    .then(() => done(null), done);
};

/** aedes `doConnack` (`client` is aedes' `arg.client || this.client`). */
function doConnack(client: ConnectingClient, arg: ConnectArg, done: Done): void {
  const connack = new Connack(arg);
  internals().write(client, connack, (err) => {
    if (!err) {
      client.broker.emit('connackSent', connack, client);
      client.connackSent = true;
    }
    done(err);
  });
}
const connack: Action = function (arg, done) {
  doConnack(arg.client ?? this.client, arg, done);
};

// push any queued messages (included retained messages) at the disconnected time
// when QoS > 0 and session is true
const emptyQueue: Action = function (_arg, done) {
  const client = this.client;
  const persistence = client.broker.persistence;
  // The one change (see above): nothing was ever queued for this id, and a clean session's
  // pass would only clear what it found.
  if (client.clean && neverQueuedFor(persistence, client.id as string)) {
    client.resume();
    return done();
  }
  const outgoing = persistence.outgoingStream(client);
  client.resume();
  pipeline(
    outgoing,
    internals().through((data: OutPacket, _enc, next) => {
      const packet = new (internals().QoSPacket)(data, client) as unknown as QueuedPacket;
      // Here we are deliberatly passing only the error (aedes: no destination stream)
      packet.writeCallback = (error) => next(error);
      const filter = (err: Error | null) => emptyQueueFilter(err, client, packet);
      persistence.outgoingUpdate(client, packet as unknown as OutPacket).then(
        () => filter(null),
        (err: Error) => filter(err),
      );
    }),
    (err) => done(err),
  );
};

/** A queued message on its way out (aedes' QoSPacket with its write callback). */
interface QueuedPacket {
  cmd?: string;
  writeCallback: Done;
}

function emptyQueueFilter(err: Error | null, client: ConnectingClient, packet: QueuedPacket): void {
  const next = packet.writeCallback;
  if (err) {
    client.emit('error', err);
    next();
    return;
  }
  const out = packet as unknown as OutPacket;
  const authorized = packet.cmd === 'publish' ? client.broker.authorizeForward(client, out) : true;
  const persistence = client.broker.persistence;
  if (client.clean || !authorized) {
    persistence.outgoingClearMessageId(client, out).then(() => next(null), next);
  } else {
    internals().write(client, out, next);
  }
}

const connectActions: Action[] = [
  authenticate,
  setKeepAlive,
  fetchSubs,
  restoreSubs,
  storeWill,
  registerClient,
  cleanIncoming,
  connack,
  emptyQueue,
];
