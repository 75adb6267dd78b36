/**
 * Keep-alive for all connections of a broker process with one interval timer, instead of
 * aedes' Timeout per client (the Timeout, its closure and the closure's scope: ~0.3 KiB
 * held per connection; docs/broker-memory.md).
 *
 * aedes arms `client._keepaliveTimer` while handling the CONNECT, refreshes it on every
 * packet (`_keepaliveTimer.refresh()`) and clears it on close (`clearTimeout`). Once a
 * client is ready, its Timeout is replaced by a Beat: `refresh()` stores the time, and a
 * sweep every `tickMs` ends the connections silent for longer than aedes' interval
 * (1.5 × keep-alive [MQTT-3.1.2-24]) exactly as aedes would: `keepaliveTimeout` on the
 * broker, then a client error, which closes the connection. A silent connection is closed
 * at most `tickMs` later than with its own timer, never earlier. `clearTimeout` on a Beat
 * does nothing (it has no `_onTimeout`); the sweep drops beats of closed clients.
 * Pinned to aedes ^1.2's client fields.
 */
import type { Aedes, Client } from 'aedes';

interface KeepaliveClient {
  closed: boolean;
  broker: Aedes;
  _keepaliveTimer: unknown;
  _keepaliveInterval: number;
  emit(event: 'error', err: Error): boolean;
}

class Beat {
  last = Date.now();
  constructor(readonly client: KeepaliveClient) {}

  refresh(): this {
    this.last = Date.now();
    return this;
  }
}

export interface KeepaliveWheel {
  /** Connections whose keep-alive the wheel watches. */
  size(): number;
  close(): void;
}

export function startKeepaliveWheel(broker: Aedes, tickMs = 1000): KeepaliveWheel {
  const beats = new Set<Beat>();
  broker.on('clientReady', (client: Client) => {
    const c = client as unknown as KeepaliveClient;
    if (c.closed || !(c._keepaliveInterval > 0) || !c._keepaliveTimer) return;
    clearTimeout(c._keepaliveTimer as NodeJS.Timeout);
    const beat = new Beat(c);
    c._keepaliveTimer = beat;
    beats.add(beat);
  });
  const timer = setInterval(() => {
    const now = Date.now();
    for (const beat of beats) {
      const c = beat.client;
      if (c.closed || c._keepaliveTimer !== beat) beats.delete(beat);
      else if (now - beat.last > c._keepaliveInterval) {
        beats.delete(beat);
        c.broker.emit('keepaliveTimeout', c as unknown as Client);
        c.emit('error', new Error('keep alive timeout'));
      }
    }
  }, tickMs);
  timer.unref();
  return {
    size: () => beats.size,
    close: () => {
      clearInterval(timer);
      beats.clear();
    },
  };
}
