/**
 * aedes `authorizeForward`: the last check before a message is written to a device.
 * Pushes are published on `$spms/d/<deviceId>/<topic>`; the device gets `<topic>` — and
 * only if the namespace is its own. Messages the broker writes to a client directly
 * (`client.publish`: attribute and RPC responses) carry the device topic already.
 *
 * A persistent session's queued messages (re-sent after a reconnect) go through aedes'
 * emptyQueue, which calls this hook but writes its own packet, ignoring the one returned.
 * That packet is a fresh per-client copy (a QoSPacket, recognisable by its own
 * `writeCallback`), so its topic is rewritten in place; the packet of a live delivery is
 * shared by every subscriber and by the persistence, so it is copied instead.
 */
import type { AedesPublishPacket, Client } from 'aedes';
import type { GatewayClient } from './context.js';
import { isProvisionSession, PROVISION_RESPONSE } from './provision.js';
import { splitDeviceTopic } from './topics.js';

export function authorizeForward(c: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
  const s = (c as GatewayClient).spms;
  // A provisioning session gets its answer (provision.ts), nothing else.
  if (!s) return isProvisionSession(c) && packet.topic === PROVISION_RESPONSE ? packet : null;
  const own = splitDeviceTopic(packet.topic);
  if (!own) return packet.topic.startsWith('v1/devices/me/') ? packet : null;
  if (own.deviceId !== s.device.id) return null;
  if (Object.hasOwn(packet, 'writeCallback')) {
    packet.topic = own.topic;
    return packet;
  }
  return { ...packet, topic: own.topic } as AedesPublishPacket;
}
