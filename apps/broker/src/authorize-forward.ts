/**
 * aedes `authorizeForward`: the last check before a message is written to a device.
 * Pushes are published on `$spms/d/<deviceId>/<topic>`; the device gets `<topic>` — and
 * only if the namespace is its own. Messages the broker writes to a client directly
 * (`client.publish`: attribute and RPC responses) carry the device topic already.
 */
import type { AedesPublishPacket, Client } from 'aedes';
import type { GatewayClient } from './context.js';
import { splitDeviceTopic } from './topics.js';

export function authorizeForward(c: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
  const s = (c as GatewayClient).spms;
  if (!s) return null;
  const own = splitDeviceTopic(packet.topic);
  if (!own) return packet.topic.startsWith('v1/devices/me/') ? packet : null;
  if (own.deviceId !== s.device.id) return null;
  return { ...packet, topic: own.topic } as AedesPublishPacket;
}
