/**
 * aedes `preConnect` + `authenticate`: ThingsBoard's device credentials and the CONNACK
 * codes a ThingsBoard device receives (docs/thingsboard-compatibility.md).
 *
 * MQTT 3.1.1 CONNACK return codes used [MQTT-3.2.2.3]:
 *   0x02 identifier rejected — no username, no password and no client id to look up;
 *   0x03 server unavailable  — rate-limited, too many connections, backend down, or too
 *                              many password checks already waiting (verify_busy);
 *   0x05 not authorized      — unknown or wrong credentials.
 * Username (or client id) `provision` opens ThingsBoard's provisioning session (provision.ts).
 * aedes 1.2 only speaks MQTT 3.1/3.1.1: an MQTT 5 CONNECT is answered 0x01 (unacceptable
 * protocol version) by aedes itself [MQTT-3.1.2-2], and the client may retry with 3.1.1.
 */
import { createHash } from 'node:crypto';
import type { AuthResult, DeviceIdentity, GoneFlag } from '@spms/device-auth';
import type { Client, ConnectPacket } from 'aedes';
import { type GatewayClient, type GatewayContext, newDeviceSession, remoteAddress } from './context.js';
import { TokenBucket } from './limits.js';
import type { RefusalReason } from './metrics.js';
import { openProvisionSession } from './provision.js';
import { registerSession } from './sessions.js';

type AuthDone = (error: (Error & { returnCode: number }) | null, success: boolean | null) => void;

const IDENTIFIER_REJECTED = 2;
const SERVER_UNAVAILABLE = 3;
const NOT_AUTHORIZED = 5;

function refusal(returnCode: number, message: string): Error & { returnCode: number } {
  return Object.assign(new Error(message), { returnCode });
}

export function createPreConnect(_ctx: GatewayContext) {
  return function preConnect(client: Client, packet: ConnectPacket, done: (e: Error | null, ok: boolean) => void) {
    // Kept because aedes swaps an empty client id for a generated one before authenticate.
    const clientId = packet.clientId ?? '';
    (client as GatewayClient).spmsClientId = clientId;
    // aedes closes any session with the same client id [MQTT-3.1.4-2]. ThingsBoard keys
    // sessions by device, and firmwares for access tokens often share one fixed client id
    // ("ESP32Client"): scope the id by the username so two devices never evict each other,
    // while a device reconnecting with its own id still takes its session over. Hashed:
    // the username may be an access token, and the id is logged.
    if (clientId && packet.username)
      packet.clientId = `${clientId}#${createHash('sha256').update(packet.username).digest('base64url').slice(0, 12)}`;
    done(null, true);
  };
}

export function createAuthenticate(ctx: GatewayContext) {
  const { config, logger, metrics } = ctx;

  return function authenticate(
    aedesClient: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: AuthDone,
  ) {
    const client = aedesClient as GatewayClient;
    const ip = remoteAddress(client);
    const clientId = client.spmsClientId ?? '';

    const refuse = (reason: RefusalReason, returnCode: number, extra: Record<string, unknown> = {}) => {
      metrics.connects.inc({ result: reason });
      metrics.refused.inc({ reason });
      ctx.connectAnswered(false);
      // Never log the password or a token (a username may be an access token).
      logger.info({ ip, clientId, reason, returnCode, ...extra }, 'CONNECT refused');
      done(refusal(returnCode, reason), null);
    };

    if (config.MAX_CONNECTIONS > 0 && ctx.connectedClients() >= config.MAX_CONNECTIONS)
      return refuse('max_connections', SERVER_UNAVAILABLE);
    // ThingsBoard's provisioning-only session (provision.ts).
    if (username === 'provision' || clientId === 'provision') return openProvisionSession(ctx, client, ip, done);
    // [MQTT-3.1.3-7]/ThingsBoard: nothing to identify the device by.
    if (!username && (password === undefined || password.length === 0) && !clientId)
      return refuse('identifier_rejected', IDENTIFIER_REJECTED);
    if (!ctx.producer.isHealthy()) return refuse('unavailable', SERVER_UNAVAILABLE, { backend: 'queue' });

    // A device that gives up waiting (closes its socket) drops its place in the password
    // queue, so a storm does not hash for devices that are gone. Read when the queue gets to
    // it: no AbortController and no 'close' listener per connect (they were 4 % of a connect
    // storm's CPU, and the listener's scope held ~1 KiB until removed).
    const gone: GoneFlag = {
      get aborted() {
        return client.closed || client.conn?.destroyed === true;
      },
    };
    checkAndAuthenticate(ip, clientId, username || undefined, password, gone).then(
      (outcome) => {
        if (typeof outcome === 'string') return refuse(outcome, codeOf(outcome));
        // The device gave up waiting for this CONNACK (a reconnect storm on a busy broker) and
        // closed the socket: registering it would replace the session it has opened since,
        // and a storm would feed itself. Nothing to answer.
        if (gone.aborted) return refuse('gone_before_connack', SERVER_UNAVAILABLE);
        // ThingsBoard carries no last will [docs/thingsboard-compatibility.md]; a will on the shared
        // `v1/devices/me/...` topics would also reach every device subscribed to it.
        (client as unknown as { _will: unknown })._will = null;
        const rate = new TokenBucket(config.DEVICE_MSG_RATE, Math.max(1, config.DEVICE_MSG_BURST));
        client.spms = newDeviceSession(outcome.device, ip, Date.now(), rate, logger);
        registerSession(ctx, client);
        metrics.connects.inc({ result: 'accepted' });
        ctx.connectAnswered(true);
        done(null, true);
      },
      (err: unknown) => {
        logger.error({ err, ip, clientId }, 'authentication failed unexpectedly');
        refuse('unavailable', SERVER_UNAVAILABLE);
      },
    );
  };

  /** The address limits (shared by all broker processes), then the credentials. */
  async function checkAndAuthenticate(
    ip: string,
    clientId: string,
    username: string | undefined,
    password: Buffer | undefined,
    signal: GoneFlag,
  ): Promise<RefusalReason | { device: DeviceIdentity }> {
    if (!(await ctx.connectLimiter.take(ip))) return 'connect_rate';
    // An address that spent its failed-authentication budget only keeps devices already
    // known good from a cache: many modems share one carrier-NAT address, and one
    // misconfigured neighbour must not lock the others out (no query, no hash for guesses).
    // Asked only when no cache answers, so a storm of known devices costs no extra call.
    const gate = async () => !(await ctx.authFailureLimiter.exhausted(ip));
    const result: AuthResult = await ctx.auth.authenticateMqtt(clientId, username, password, { signal, gate });
    if (result.ok) return { device: result.device };
    if (signal.aborted) return 'gone_before_connack';
    if (result.reason === 'bad_credentials') await ctx.authFailureLimiter.take(ip);
    if (result.reason === 'throttled') return 'auth_failure_rate';
    return result.reason === 'busy' ? 'verify_busy' : result.reason;
  }
}

function codeOf(reason: RefusalReason): number {
  if (reason === 'identifier_rejected') return IDENTIFIER_REJECTED;
  if (reason === 'bad_credentials') return NOT_AUTHORIZED;
  return SERVER_UNAVAILABLE;
}
