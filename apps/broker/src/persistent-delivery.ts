/**
 * Sending persistent RPCs (docs/rpc.md) to a session of this broker and noticing the
 * device's PUBACK. The row is claimed (QUEUED → SENT) before anything is written, so of all
 * copies of one RPC — in any broker's hands, or an HTTP poll's — only one goes out.
 *
 * The subscription's QoS decides the packet's (as for any push): at QoS 1 the device's PUBACK
 * makes the RPC DELIVERED; at QoS 0 there is no acknowledgement, so it is DELIVERED once
 * written, as ThingsBoard does. aedes reports a PUBACK's packet only for sessions it keeps
 * (clean=false), so the packet identifier is taken from the written packet (aedes calls the
 * write callback on it) and matched against the PUBACKs the session's parser sees. Should
 * either be unavailable, the RPC is DELIVERED once written.
 */
import { claimRpcForSending, markRpcDelivered, type PersistentRpc } from '@spms/device-auth';
import { type RpcRequestCommand, rpcMqttBody } from '@spms/queue';
import type { GatewayClient, GatewayContext } from './context.js';
import { deviceTopic, RPC_REQUEST } from './topics.js';

interface Parser {
  on(event: 'packet', fn: (p: { cmd?: string; messageId?: number }) => void): void;
}

export interface PersistentDelivery {
  /** Claims and publishes one copy; a copy whose row is not QUEUED any more is dropped. */
  deliver(client: GatewayClient, cmd: RpcRequestCommand & { rpcId?: string }): Promise<void>;
  /**
   * Starts watching a session's PUBACKs (once per session). Called by `deliver` before its
   * first publish, so only sessions that get a persistent RPC carry the state (its map, set
   * and parser listener: ~0.6 KiB, measured, on every session when it was made at connect).
   */
  watch(client: GatewayClient): void;
}

export function createPersistentDelivery(ctx: GatewayContext): PersistentDelivery {
  /** Per session: packet identifier → the RPC it carries, until acknowledged. */
  const inflight = new WeakMap<GatewayClient, Map<number, PersistentRpc>>();
  /** Per session: PUBACKs that came before their write callback ran (a fast device). */
  const early = new WeakMap<GatewayClient, Set<number>>();
  const count = (result: string) => ctx.metrics.commands.inc({ kind: 'persistent_rpc', result });

  function delivered(rpc: PersistentRpc): void {
    markRpcDelivered(ctx.pool, rpc.deviceId, rpc.requestId).then(
      (row) => row && count('delivered'),
      (err: unknown) => ctx.logger.warn({ err, rpcId: rpc.id }, 'persistent RPC delivery not recorded'),
    );
  }

  function watch(client: GatewayClient): void {
    if (inflight.has(client)) return;
    const pending = new Map<number, PersistentRpc>();
    const acked = new Set<number>();
    inflight.set(client, pending);
    early.set(client, acked);
    const parser = (client as unknown as { _parser?: Parser })._parser;
    parser?.on('packet', (p) => {
      if (p.cmd !== 'puback' || p.messageId === undefined) return;
      const rpc = pending.get(p.messageId);
      if (!rpc) {
        if (acked.size >= 64) acked.clear();
        acked.add(p.messageId);
        return;
      }
      pending.delete(p.messageId);
      delivered(rpc);
    });
  }

  async function deliver(client: GatewayClient, cmd: RpcRequestCommand & { rpcId?: string }): Promise<void> {
    if (!cmd.rpcId) return;
    let rpc: PersistentRpc | null;
    try {
      rpc = await claimRpcForSending(ctx.pool, cmd.deviceId, cmd.rpcId);
    } catch (err) {
      // Still QUEUED: the sweeper puts a copy back for this live session.
      ctx.logger.warn({ err, rpcId: cmd.rpcId }, 'persistent RPC not claimed');
      return;
    }
    if (!rpc) {
      count('dropped_copy');
      return;
    }
    count('sent');
    if (client.closed) return; // SENT: the attempt times out and is retried
    watch(client);
    const sub = (client as unknown as { subscriptions?: Record<string, { qos?: number }> }).subscriptions?.[
      deviceTopic(rpc.deviceId, `${RPC_REQUEST}+`)
    ];
    const qos = sub?.qos === 0 ? 0 : 1;
    const pending = inflight.get(client);
    const sent = rpc;
    const payload = Buffer.from(JSON.stringify(rpcMqttBody({ ...cmd, method: rpc.method, params: rpc.params })));
    client.publish(
      { cmd: 'publish', topic: RPC_REQUEST + rpc.requestId, payload, qos, retain: false, dup: false },
      // aedes calls this on the written packet: its identifier is what the PUBACK names.
      function (this: { messageId?: number } | undefined, err?: Error) {
        ctx.metrics.commands.inc({ kind: 'rpc', result: err ? 'failed' : 'delivered' });
        if (err) return; // stays SENT: the attempt times out and is retried
        const id = this?.messageId;
        const acked = early.get(client);
        if (qos === 1 && pending && typeof id === 'number' && !acked?.delete(id)) pending.set(id, sent);
        else delivered(sent);
      },
    );
  }

  return { deliver, watch };
}
