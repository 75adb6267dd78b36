/**
 * Which client ids aedes' persistence ever queued an outgoing message for, so that the
 * CONNECT of a clean session with nothing queued can skip aedes' pass over its (empty)
 * queue (aedes-connect.ts). aedes 1.2 adds to a client's outgoing queue only through
 * `outgoingEnqueue` (a clean=false client's own QoS 1/2 delivery, lib/client.js `publish`)
 * and `outgoingEnqueueCombi` (a message for offline clean=false subscribers, aedes.js);
 * `outgoingUpdate` only changes entries already there. Both are wrapped on the broker's
 * persistence instance to note the ids they name. Never forgotten: the set holds the ids of
 * clients that used clean=false sessions (the fleet's firmware uses clean ones), and a noted
 * id only means the full pass, as aedes does for every client.
 */
import type { OutPacket } from './aedes-client-functions.js';

/** aedes' persistence, as far as CONNECT handling uses it. */
export interface ConnectPersistence {
  subscriptionsByClient(client: { id: string }): Promise<unknown[]>;
  cleanSubscriptions(client: unknown): Promise<unknown>;
  cleanIncoming?(client: unknown): Promise<unknown>;
  delWill(client: unknown): Promise<unknown>;
  putWill(client: unknown, will: unknown): Promise<unknown>;
  outgoingStream(client: unknown): NodeJS.ReadableStream;
  outgoingUpdate(client: unknown, packet: OutPacket): Promise<unknown>;
  outgoingClearMessageId(client: unknown, packet: OutPacket): Promise<unknown>;
  outgoingEnqueue(sub: { clientId: string }, packet: unknown): Promise<unknown>;
  outgoingEnqueueCombi(subs: { clientId: string }[], packet: unknown): Promise<unknown>;
}

const NAMED = Symbol('spms.outgoingNamed');
type Tracked = ConnectPersistence & { [NAMED]?: Set<string> };

/**
 * aedes' default persistence (aedes-persistence's memory store behind its callback wrapper):
 * this process's own, empty at start. A shared one (Redis, MongoDB) is filled by other
 * processes and outlives this one, so what this process saw would not say what is queued.
 */
function isProcessMemory(p: unknown): boolean {
  const wrapper = p as { constructor?: { name?: string }; asyncPersistence?: { constructor?: { name?: string } } };
  return (
    wrapper.constructor?.name === 'CallBackPersistence' &&
    wrapper.asyncPersistence?.constructor?.name === 'MemoryPersistence'
  );
}

/**
 * Called once on the broker's persistence, before any client connects. Any other persistence
 * than aedes' in-memory default is left alone: every clean session then gets aedes' full pass.
 * Returns whether the persistence is tracked.
 */
export function trackOutgoing(persistence: unknown): boolean {
  const p = persistence as Tracked;
  if (p[NAMED]) return true;
  if (!isProcessMemory(p)) return false;
  const named = new Set<string>();
  const enqueue = p.outgoingEnqueue;
  const enqueueCombi = p.outgoingEnqueueCombi;
  p.outgoingEnqueue = function (this: ConnectPersistence, sub, packet) {
    named.add(sub.clientId);
    return enqueue.call(this, sub, packet);
  };
  p.outgoingEnqueueCombi = function (this: ConnectPersistence, subs, packet) {
    for (const sub of subs) named.add(sub.clientId);
    return enqueueCombi.call(this, subs, packet);
  };
  p[NAMED] = named;
  return true;
}

/** True only for a tracked persistence that never queued anything for `clientId`. */
export function neverQueuedFor(persistence: ConnectPersistence, clientId: string): boolean {
  return (persistence as Tracked)[NAMED]?.has(clientId) === false;
}
