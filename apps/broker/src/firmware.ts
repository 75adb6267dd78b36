/**
 * Firmware chunks over MQTT, as ThingsBoard serves them (docs/firmware-protocol.md): the
 * device publishes the chunk size (decimal text) to `v2/fw/request/<requestId>/chunk/<n>`
 * and gets bytes [n × size, +size) of its target firmware on
 * `v2/fw/response/<requestId>/chunk/<n>` — shorter at the end, empty past it.
 * ThingsBoard's other answers, kept: an empty payload reuses the size this request id last
 * asked for in the session, else means the whole image; a size above FW_CHUNK_MAX_BYTES
 * (or a whole image above it) gets `PAYLOAD_TOO_LARGE` and no firmware assigned `NOT_FOUND`,
 * both on `v2/fw/error`, and the connection is closed without PUBACK. A request id keeps the
 * image it first got for the whole session, so a change of assignment never mixes two
 * images in one download.
 *
 * Nothing here goes to the ingest queue. The request is acknowledged once its image is known
 * (ThingsBoard acknowledges before sending), then served without holding up the session's
 * other packets.
 *
 * At most FW_MAX_CONCURRENT_DOWNLOADS devices download at once across all broker processes
 * (download-slots.ts in @spms/queue). A request not admitted is held, first come first
 * served across the brokers, up to FW_ADMISSION_WAIT_MS; past that it goes unanswered and the
 * device's own timeout and retry apply (it keeps its place in the line while it asks). A session
 * has at most one request being served and one waiting (a newer one replaces it), so a
 * device that asks faster than it reads cannot pile up chunks in the broker's memory.
 */
import type { FirmwareMeta } from '@spms/firmware';
import { readChunk, targetFirmware } from '@spms/firmware';
import { createDownloadSlots } from '@spms/queue';
import type { Redis } from 'ioredis';
import { Counter, Gauge } from 'prom-client';
import { createChunkCache } from './chunk-cache.js';
import type { DeviceSession, GatewayClient, GatewayContext } from './context.js';
import { deviceTopic, FW_ERROR, FW_RESPONSE } from './topics.js';

/** `ack`: PUBACK (served or to be served); `close`: refused, connection closed; else an invalid payload. */
export type FirmwareOutcome = 'ack' | 'close' | { invalid: string };

export interface FirmwareServer {
  handle(
    client: GatewayClient,
    s: DeviceSession,
    req: { requestId: string; chunk: number },
    payload: Buffer,
    done: (outcome: FirmwareOutcome) => void,
  ): void;
  close(): void;
}

interface Pending {
  requestId: string;
  chunk: number;
  /** 0 = the whole image. */
  size: number;
  image: FirmwareMeta;
}

interface FwSession {
  /** ThingsBoard remembers per request id the last chunk size and the image it served. */
  sizes: Map<string, number>;
  images: Map<string, FirmwareMeta>;
  next: Pending | null;
  running: boolean;
}

/** Request ids remembered per session (a device uses one or two). */
const MAX_REQUEST_IDS = 8;
const remember = <V>(map: Map<string, V>, key: string, value: V) => {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_REQUEST_IDS) map.delete(map.keys().next().value as string);
};

const SIZE = /^\d{1,10}$/;
const EMPTY = Buffer.alloc(0);

export function createFirmwareServer(ctx: GatewayContext, redis: Redis): FirmwareServer {
  const { config, pool, metrics } = ctx;
  const sessions = new WeakMap<DeviceSession, FwSession>();
  const served = new Counter({
    name: 'spms_broker_firmware_chunks_served_total',
    help: 'Firmware chunks sent to devices over MQTT (v2/fw/response)',
    registers: [metrics.registry],
  });
  const bytes = new Counter({
    name: 'spms_broker_firmware_bytes_served_total',
    help: 'Firmware bytes sent to devices over MQTT',
    registers: [metrics.registry],
  });
  const refused = new Counter({
    name: 'spms_broker_firmware_requests_refused_total',
    help: 'Firmware chunk requests not served, by reason (chunk_too_large, whole_image_too_large, no_firmware = NOT_FOUND answered; not_admitted = no download slot within FW_ADMISSION_WAIT_MS; superseded = a newer request of the same session replaced it; unavailable = Redis or PostgreSQL failed)',
    labelNames: ['reason'],
    registers: [metrics.registry],
  });
  const cacheResults = new Counter({
    name: 'spms_broker_firmware_chunk_cache_total',
    help: 'Firmware chunk reads by result (hit = from this process memory, miss = read from PostgreSQL)',
    labelNames: ['result'],
    registers: [metrics.registry],
  });
  const slots = createDownloadSlots(redis, {
    prefix: config.REDIS_PREFIX,
    max: config.FW_MAX_CONCURRENT_DOWNLOADS,
    idleMs: config.FW_DOWNLOAD_IDLE_MS,
    maxHoldMs: config.FW_SLOT_MAX_MS,
    waitMs: config.FW_ADMISSION_WAIT_MS,
    logger: ctx.logger.child({ component: 'firmware' }),
  });
  new Gauge({
    name: 'spms_broker_firmware_active_downloads',
    help: 'Devices holding a download slot, all broker processes together (at most FW_MAX_CONCURRENT_DOWNLOADS)',
    registers: [metrics.registry],
    async collect() {
      try {
        this.set(await slots.active());
      } catch {
        // Redis down: /readyz says so; a scrape must still succeed.
      }
    },
  });
  new Gauge({
    name: 'spms_broker_firmware_waiting_requests',
    help: 'Chunk requests of this process held for a download slot',
    registers: [metrics.registry],
    collect() {
      this.set(slots.waiting());
    },
  });
  const cache = createChunkCache(config.FW_CHUNK_CACHE_BYTES);

  function stateOf(s: DeviceSession): FwSession {
    let st = sessions.get(s);
    if (!st) {
      st = { sizes: new Map(), images: new Map(), next: null, running: false };
      sessions.set(s, st);
      // No Nagle delay between request and chunk: every device socket has TCP_NODELAY (listeners.ts).
    }
    return st;
  }

  function publish(client: GatewayClient, s: DeviceSession, topic: string, payload: Buffer): Promise<void> {
    // ThingsBoard answers with the QoS the device subscribed with, else 1.
    let qos: 0 | 1 = 1;
    const subs = (client as unknown as { subscriptions: Record<string, { qos: number }> }).subscriptions;
    for (const [filter, sub] of Object.entries(subs))
      if (filter.startsWith(deviceTopic(s.device.id, 'v2/fw/'))) qos = sub.qos === 0 ? 0 : 1;
    return new Promise((resolve) =>
      client.publish(
        { cmd: 'publish', topic: deviceTopic(s.device.id, topic), payload, qos, retain: false, dup: false },
        () => resolve(),
      ),
    );
  }

  /** ThingsBoard's error answer: the status on v2/fw/error, then the connection is closed. */
  function fail(
    client: GatewayClient,
    s: DeviceSession,
    status: string,
    reason: string,
    detail: string,
  ): Promise<void> {
    refused.inc({ reason });
    s.log.warn({ reason, detail }, `firmware request refused: ${status}`);
    s.closeReason = `firmware_${reason}`;
    return publish(client, s, FW_ERROR, Buffer.from(status));
  }

  async function read(image: FirmwareMeta, chunk: number, size: number): Promise<Buffer | null> {
    const key = `${image.id}:${size}:${chunk}`;
    const hit = cache.get(key);
    if (hit) {
      cacheResults.inc({ result: 'hit' });
      return hit;
    }
    cacheResults.inc({ result: 'miss' });
    const data = await readChunk(pool, image.id, chunk, size);
    if (data) cache.set(key, data);
    return data;
  }

  async function serve(client: GatewayClient, s: DeviceSession, r: Pending): Promise<void> {
    const size = r.size === 0 ? Math.max(1, r.image.size) : r.size;
    const chunk = r.size === 0 ? 0 : r.chunk;
    const offset = chunk * size;
    const data = offset >= r.image.size ? EMPTY : await read(r.image, chunk, size);
    if (data === null) {
      // Deleted since this request id got it (it cannot be while assigned).
      await fail(client, s, 'NOT_FOUND', 'no_firmware', `firmware ${r.image.id} no longer exists`);
      client.close();
      return;
    }
    await publish(client, s, `${FW_RESPONSE}${r.requestId}/chunk/${r.chunk}`, data);
    served.inc();
    bytes.inc(data.length);
    // The last chunk (or one past the end): the device is done downloading.
    if (offset + data.length >= r.image.size) await slots.release(s.device.id);
  }

  async function run(client: GatewayClient, s: DeviceSession, st: FwSession): Promise<void> {
    if (st.running) return;
    st.running = true;
    try {
      while (st.next && !client.closed) {
        const asked = st.next;
        const admitted = await slots.admit(s.device.id, () => client.closed);
        // The newest request of the session is the one served (a retry replaced the older).
        const r = st.next;
        st.next = null;
        if (!r) continue;
        if (admitted === 'unavailable') {
          refused.inc({ reason: 'unavailable' });
          continue;
        }
        if (admitted !== 'admitted') {
          if (!client.closed) {
            refused.inc({ reason: 'not_admitted' });
            s.log.info({ requestId: asked.requestId, chunk: asked.chunk }, 'firmware request not admitted in time');
          }
          continue;
        }
        await serve(client, s, r);
      }
    } catch (err) {
      refused.inc({ reason: 'unavailable' });
      s.log.error({ err }, 'firmware chunk not served');
    } finally {
      st.running = false;
    }
  }

  return {
    handle(client, s, req, payload, done) {
      const text = payload.toString('latin1').trim();
      if (text !== '' && !SIZE.test(text))
        return done({ invalid: 'firmware chunk request: the payload must be the chunk size in bytes (decimal)' });
      const st = stateOf(s);
      let size = text === '' ? 0 : Number(text);
      if (size > 0) remember(st.sizes, req.requestId, size);
      else size = st.sizes.get(req.requestId) ?? 0;
      if (size > config.FW_CHUNK_MAX_BYTES) {
        fail(
          client,
          s,
          'PAYLOAD_TOO_LARGE',
          'chunk_too_large',
          `chunk size ${size} > ${config.FW_CHUNK_MAX_BYTES}`,
        ).then(() => done('close'));
        return;
      }
      const known = st.images.get(req.requestId);
      // A new request id costs a database look-up: those count against the device's message rate.
      if (!known && !s.rate.take()) {
        metrics.refused.inc({ reason: 'device_rate' });
        s.log.warn({ reason: 'device_rate' }, 'firmware requests with new request ids above the message rate');
        s.closeReason = 'device_rate';
        return done('close');
      }
      (known ? Promise.resolve(known) : targetFirmware(pool, s.device.id)).then(
        async (image) => {
          if (!image) {
            await fail(client, s, 'NOT_FOUND', 'no_firmware', 'no firmware assigned to the device or its profile');
            return done('close');
          }
          if (size === 0 && image.size > config.FW_CHUNK_MAX_BYTES) {
            await fail(
              client,
              s,
              'PAYLOAD_TOO_LARGE',
              'whole_image_too_large',
              `no chunk size: the whole image (${image.size} bytes) is above ${config.FW_CHUNK_MAX_BYTES}`,
            );
            return done('close');
          }
          remember(st.images, req.requestId, image);
          if (st.next) refused.inc({ reason: 'superseded' });
          st.next = { requestId: req.requestId, chunk: req.chunk, size, image };
          done('ack');
          void run(client, s, st);
        },
        (err: unknown) => {
          // Unanswered, as ThingsBoard leaves a failed look-up: the device's timeout applies.
          refused.inc({ reason: 'unavailable' });
          s.log.error({ err }, 'firmware look-up failed');
          done('ack');
        },
      );
    },
    close() {
      slots.close();
    },
  };
}
