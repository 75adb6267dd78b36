/**
 * Device publishes that ask for something rather than report it (docs/thingsboard-compatibility.md):
 * attribute requests, client-side RPC, answers to server-side RPC, claiming requests. Each calls
 * `done(null)` when handled (the PUBLISH is then acknowledged) or `done(problem)` for a
 * malformed request (refused like any malformed payload).
 */
import { parseClaimRequest } from '@spms/credentials';
import type { Pool } from '@spms/db';
import { recordClaim, recordRpcResponse } from '@spms/device-auth';
import { isPersistentRpcId, relayRpcResponse, type TelemetryValue } from '@spms/queue';
import { checkRequestBody, parseLenientJson } from '@spms/telemetry';
import type { Redis } from 'ioredis';
import type { DeviceSession, GatewayClient, GatewayContext } from './context.js';
import { ATTRIBUTES_RESPONSE, type PublishKind, RPC_RESPONSE } from './topics.js';

export interface DeviceRequests {
  handle(
    client: GatewayClient,
    s: DeviceSession,
    kind: PublishKind,
    payload: Buffer,
    done: (p: string | null) => void,
  ): void;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseJson(payload: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    const text = utf8.decode(payload);
    return { ok: true, value: text.trim() === '' ? {} : parseLenientJson(text) };
  } catch {
    return { ok: false };
  }
}

/** `"a,b"` (ThingsBoard) or `["a","b"]` → key list; undefined when the scope was not asked for. */
function keyList(v: unknown): string[] | undefined {
  if (typeof v === 'string')
    return v
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean);
  if (Array.isArray(v)) return v.filter((k): k is string => typeof k === 'string');
  return undefined;
}

/** ThingsBoard's answer: only the scopes that have values. */
export async function readAttributes(
  pool: Pool,
  deviceId: string,
  clientKeys: string[] | undefined,
  sharedKeys: string[] | undefined,
): Promise<{ client?: Record<string, TelemetryValue>; shared?: Record<string, TelemetryValue> }> {
  // Neither scope named: everything, as ThingsBoard does for an empty request.
  const all = clientKeys === undefined && sharedKeys === undefined;
  const { rows } = await pool.query<{ scope: 'client' | 'shared'; key: string; value: TelemetryValue }>(
    `SELECT scope, key, value FROM device_attributes
      WHERE device_id = $1
        AND ($2::boolean OR (scope = 'client' AND key = ANY($3::text[])) OR (scope = 'shared' AND key = ANY($4::text[])))`,
    [deviceId, all, clientKeys ?? [], sharedKeys ?? []],
  );
  const out: { client?: Record<string, TelemetryValue>; shared?: Record<string, TelemetryValue> } = {};
  for (const r of rows) {
    if (r.scope !== 'client' && r.scope !== 'shared') continue;
    const scope = out[r.scope] ?? {};
    scope[r.key] = r.value;
    out[r.scope] = scope;
  }
  return out;
}

export function createDeviceRequests(ctx: GatewayContext, publisher: Redis): DeviceRequests {
  const respond = (client: GatewayClient, topic: string, body: unknown) =>
    new Promise<void>((resolve) =>
      client.publish(
        { cmd: 'publish', topic, payload: Buffer.from(JSON.stringify(body)), qos: 1, retain: false, dup: false },
        () => resolve(),
      ),
    );

  return {
    handle(client, s, kind, payload, done) {
      const parsed = parseJson(payload);
      if (!parsed.ok && kind.kind !== 'rpc_response') return done('request payload is not JSON (even leniently)');
      const body = (parsed.ok ? parsed.value : null) as Record<string, unknown> | null;
      // The message limits of telemetry apply to requests too (depth, keys, sizes).
      const tooBig = parsed.ok ? checkRequestBody(parsed.value) : null;
      if (tooBig) return done(tooBig);

      switch (kind.kind) {
        case 'attributes_request': {
          if (typeof body !== 'object' || body === null || Array.isArray(body))
            return done('attribute request must be a JSON object');
          readAttributes(ctx.pool, s.device.id, keyList(body.clientKeys), keyList(body.sharedKeys)).then(
            (attrs) => respond(client, ATTRIBUTES_RESPONSE + kind.requestId, attrs).then(() => done(null)),
            (err: unknown) => {
              // The request is answered by nothing, as ThingsBoard does on a failed read;
              // the device's own timeout applies. Acknowledge: re-sending cannot help.
              s.log.error({ err }, 'attribute request failed');
              done(null);
            },
          );
          return;
        }
        case 'rpc_request': {
          const method = typeof body === 'object' && body !== null ? (body as { method?: unknown }).method : undefined;
          if (typeof method !== 'string') return done('RPC request needs a "method"');
          // ThingsBoard's documented time sync answers the epoch milliseconds; other methods
          // would go to a rule chain, which SPMS does not have (same text as its example).
          const answer = method === 'getCurrentTime' ? Date.now() : `Unknown RPC request method: ${method}`;
          respond(client, RPC_RESPONSE + kind.requestId, answer).then(() => done(null));
          return;
        }
        case 'rpc_response': {
          const requestId = Number(kind.requestId);
          if (!Number.isSafeInteger(requestId)) return done('RPC response id must be an integer');
          // ThingsBoard passes a non-JSON answer on as text.
          const response = (parsed.ok ? parsed.value : payload.toString('utf8')) as TelemetryValue;
          if (isPersistentRpcId(requestId)) {
            // A persistent RPC's answer goes to its row, only if it is this device's and out.
            recordRpcResponse(ctx.pool, s.device.id, requestId, response).then(
              (row) => {
                if (row) ctx.metrics.commands.inc({ kind: 'persistent_rpc', result: 'successful' });
                else s.log.debug({ requestId }, 'answer to no persistent RPC of this device that is out');
                done(null);
              },
              (err: unknown) => {
                s.log.error({ err, requestId }, 'persistent RPC answer not recorded');
                done(null);
              },
            );
            return;
          }
          // Stored for the API that waits (whichever process it is); the wake-up only hurries it.
          relayRpcResponse(
            publisher,
            ctx.config.REDIS_PREFIX,
            s.device.id,
            requestId,
            response,
            ctx.config.PUBSUB_WAKEUPS,
          ).then(
            (waited) => {
              if (!waited)
                s.log.debug({ requestId }, 'RPC response that nobody waits for (timed out, oneway or unknown)');
              done(null);
            },
            (err: unknown) => {
              s.log.error({ err, requestId }, 'RPC response not forwarded');
              done(null);
            },
          );
          return;
        }
        case 'claim': {
          // ThingsBoard's {"secretKey","durationMs"}: kept (secret hashed) until an operator
          // claims the device with it (apps/api devices/claim). No answer on MQTT, as ThingsBoard.
          const claim = parseClaimRequest(body);
          if (!claim.ok) {
            s.log.warn({ reason: claim.error }, 'claiming request refused');
            return done(null);
          }
          recordClaim(ctx.pool, s.device.id, claim.request).then(
            () => {
              s.log.info({ durationMs: claim.request.durationMs }, 'claiming request recorded');
              done(null);
            },
            (err: unknown) => {
              s.log.error({ err }, 'claiming request not recorded');
              done(null);
            },
          );
          return;
        }
        default:
          return done(null);
      }
    },
  };
}
