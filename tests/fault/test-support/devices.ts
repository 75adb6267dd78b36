/**
 * Simulated devices that behave as the firmware / ThingsBoard clients do on a lost
 * acknowledgement: each timestamped line change `{"ts":…,"values":{"3":false}}` is kept
 * until its PUBACK (MQTT, QoS 1) or HTTP 200, and sent again after reconnecting / retrying.
 * Every acknowledgement is written to a ledger: what the system promised to keep.
 */
import { LeanMqttClient, TELEMETRY_TOPIC } from '@spms/simulator';
import type { FaultDevice } from './fault-stack.js';

export interface SentMessage {
  deviceId: string;
  ts: number;
  powered: boolean;
  payload: string;
  ackedAt?: number;
}

/** Everything the fleet sent and had acknowledged. */
export class Ledger {
  readonly messages: SentMessage[] = [];
  readonly ackTimes: number[] = [];
  ack(m: SentMessage): void {
    if (m.ackedAt !== undefined) return;
    m.ackedAt = Date.now();
    this.ackTimes.push(m.ackedAt);
  }
  acked(): SentMessage[] {
    return this.messages.filter((m) => m.ackedAt !== undefined);
  }
  /** Acknowledgements received at or after `t` (epoch ms). */
  ackedSince(t: number): number {
    let n = 0;
    for (let i = this.ackTimes.length - 1; i >= 0 && (this.ackTimes[i] as number) >= t; i--) n++;
    return n;
  }
}

export interface Fleet {
  ledger: Ledger;
  /** Why sessions / connection attempts ended, counted (for the phase log). */
  closes: Map<string, number>;
  /** Messages waiting for their acknowledgement. */
  pending(): number;
  /** Stops producing new messages; the devices keep resending what is pending. */
  quiesce(): void;
  /** Closes every connection (pending messages stay unacknowledged). */
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const backoff = () => sleep(300 + Math.random() * 500);

/** One device's message source: a line-3 toggle every `periodMs`, strictly increasing ts. */
function startSource(dev: FaultDevice, ledger: Ledger, periodMs: number, onMessage: (m: SentMessage) => void) {
  let powered = true;
  let lastTs = 0;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    powered = !powered;
    const ts = Math.max(Date.now(), lastTs + 1);
    lastTs = ts;
    const m: SentMessage = {
      deviceId: dev.id,
      ts,
      powered,
      payload: JSON.stringify({ ts, values: { '3': powered } }),
    };
    ledger.messages.push(m);
    onMessage(m);
    timer = setTimeout(tick, periodMs);
  };
  // Random phase, so the fleet's messages are spread over the period.
  timer = setTimeout(tick, Math.random() * periodMs);
  return () => clearTimeout(timer);
}

export function startMqttFleet(port: number, devices: FaultDevice[], periodMs: number): Fleet {
  const ledger = new Ledger();
  let closed = false;
  const stops: (() => void)[] = [];
  const pendingSets: Set<SentMessage>[] = [];
  const clients = new Set<LeanMqttClient>();
  const closes = new Map<string, number>();
  const count = (why: string) => closes.set(why, (closes.get(why) ?? 0) + 1);

  devices.forEach((dev, i) => {
    const pending = new Set<SentMessage>();
    pendingSets.push(pending);
    let client: LeanMqttClient | undefined;
    const publish = (c: LeanMqttClient, m: SentMessage) => {
      c.publish(TELEMETRY_TOPIC, m.payload, 1).then(
        () => {
          ledger.ack(m);
          pending.delete(m);
        },
        () => {}, // connection gone: stays pending, resent on the next session
      );
    };
    const session = async () => {
      while (!closed) {
        const c = new LeanMqttClient({
          host: '127.0.0.1',
          port,
          clientId: `fault-${i}`,
          username: dev.token,
          keepalive: 30,
          // Generous: 500 devices reconnecting at once on a loaded 2-core machine can wait
          // seconds for CONNACK; giving up early only adds takeovers and load.
          connectTimeoutMs: 20_000,
        });
        try {
          await c.connect();
        } catch (err) {
          count(`connect: ${(err as Error).message}`);
          await backoff();
          continue;
        }
        if (closed) return void c.destroy();
        client = c;
        clients.add(c);
        c.once('close', (err?: Error) => {
          count(`session: ${err?.message ?? 'closed'}`);
          clients.delete(c);
          if (client === c) client = undefined;
          if (!closed) void backoff().then(session);
        });
        for (const m of pending) publish(c, m);
        return;
      }
    };
    // Spread the first CONNECTs over a few seconds, as a fleet coming up does.
    void sleep(i * 5).then(session);
    stops.push(
      startSource(dev, ledger, periodMs, (m) => {
        pending.add(m);
        if (client?.connected) publish(client, m);
      }),
    );
  });

  return {
    ledger,
    closes,
    pending: () => pendingSets.reduce((n, s) => n + s.size, 0),
    quiesce: () => {
      for (const stop of stops) stop();
    },
    async close() {
      closed = true;
      for (const stop of stops) stop();
      for (const c of clients) c.destroy();
    },
  };
}

/** HTTP firmware: one request at a time per device, the same body again until a 200. */
export function startHttpFleet(apiUrl: string, devices: FaultDevice[], periodMs: number): Fleet {
  const ledger = new Ledger();
  let closed = false;
  const stops: (() => void)[] = [];
  const queues: SentMessage[][] = [];

  for (const dev of devices) {
    const queue: SentMessage[] = [];
    queues.push(queue);
    let sending = false;
    const drain = async () => {
      if (sending) return;
      sending = true;
      while (!closed && queue.length > 0) {
        const m = queue[0] as SentMessage;
        let ok = false;
        try {
          const res = await fetch(`${apiUrl}/api/v1/${dev.token}/telemetry`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: m.payload,
            signal: AbortSignal.timeout(10_000),
          });
          await res.arrayBuffer();
          ok = res.status === 200;
        } catch {
          // connection refused / reset: the API is down
        }
        if (ok) {
          ledger.ack(m);
          queue.shift();
        } else await backoff();
      }
      sending = false;
    };
    stops.push(
      startSource(dev, ledger, periodMs, (m) => {
        queue.push(m);
        void drain();
      }),
    );
  }

  return {
    ledger,
    closes: new Map(),
    pending: () => queues.reduce((n, q) => n + q.length, 0),
    quiesce: () => {
      for (const stop of stops) stop();
    },
    async close() {
      closed = true;
      for (const stop of stops) stop();
    },
  };
}
