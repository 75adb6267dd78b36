/**
 * SMPP 3.4 provider: one transceiver session per process (submits out, receipts and replies
 * in), kept alive with enquire_link and re-opened with exponential back-off. At most
 * `window` submit_sm await their response at once, and submissions are spaced to
 * `maxPerSecond`.
 *
 * Duplicates: SMPP 3.4 has no idempotency key. A submit_sm written to a connection that drops
 * before its submit_sm_resp arrives may or may not have been accepted; it is submitted again
 * on the next session (at-least-once, like the Twilio path after a timeout): a rare duplicate
 * alert is preferred to a lost one. A submit that was never written (no session) is simply
 * sent later. A submit whose response arrived is never sent again by this provider.
 */
import { isIP } from 'node:net';
import smpp, { type Pdu, type Session } from 'smpp';
import { isE164 } from './phone.js';
import {
  type DeliverSm,
  describeSmppStatus,
  encodeText,
  parseDeliverSm,
  parseSmppUrl,
  SMPP_THROTTLED,
  sourceAddress,
  submitError,
} from './smpp-codec.js';
import { type SendResult, SmsError, type SmsLogger, type SmsMessage, type SmsProvider } from './types.js';

export interface SmppSmsConfig {
  /** smpp://system_id:password@host:2775 or smpps://… */
  url: string;
  /** Sender: E.164 number, short code, or alphanumeric sender id (replies need a number). */
  sourceAddr: string;
  sourceTon?: number;
  sourceNpi?: number;
  /** bind_transceiver system_type (empty for most SMSCs). */
  systemType?: string;
  /** enquire_link period while bound. Default 30 s. */
  enquireLinkMs?: number;
  /** Wait for any response (bind, submit, enquire_link) before the session is taken as dead. Default 10 s. */
  responseTimeoutMs?: number;
  /** Most submit_sm awaiting their response. Default 10. */
  window?: number;
  /** Submissions per second from this process (0 = no cap). Default 10. */
  maxPerSecond?: number;
  /** Reconnect back-off: first delay, doubled up to the cap. Defaults 1 s and 60 s. */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** How long send() waits for a bound session before failing (retryable). Default 30 s. */
  sendTimeoutMs?: number;
  /** Tries of one text within send() (throttling, lost connection) before failing (retryable). Default 6. */
  submitTries?: number;
  /** Back-off after ESME_RTHROTTLED / ESME_RMSGQFUL, doubled per try. Default 1 s. */
  throttleBackoffMs?: number;
  /** Longer than one segment: send in message_payload (true) or shorten to one segment (false, default). */
  allowLong?: boolean;
  /** Verify the SMSC's TLS certificate (smpps). Default true. */
  tlsRejectUnauthorized?: boolean;
  /** CA certificate(s) to verify the SMSC with, when not a public CA (PEM). */
  tlsCa?: string | Buffer;
  /** Country for sender numbers of replies that are not international. Default 'LK'. */
  defaultCountry?: string;
}

/** What the SMSC delivers to us. The promise settles before deliver_sm_resp: reject → the SMSC retries. */
export type DeliverHandler = (d: DeliverSm) => Promise<void>;

export interface SmppProvider extends SmsProvider {
  readonly name: 'smpp';
  /** Starts connecting; `onDeliver` receives receipts and replies. */
  start(onDeliver?: DeliverHandler): void;
  /** true while bound. */
  readonly bound: boolean;
  close(): Promise<void>;
}

class ConnectionLost extends Error {}

export function createSmppProvider(config: SmppSmsConfig, logger: SmsLogger): SmppProvider {
  const ep = parseSmppUrl(config.url);
  const source = sourceAddress(config.sourceAddr, config.sourceTon, config.sourceNpi);
  const enquireMs = config.enquireLinkMs ?? 30_000;
  const responseMs = config.responseTimeoutMs ?? 10_000;
  const windowSize = Math.max(1, config.window ?? 10);
  const spacingMs = (config.maxPerSecond ?? 10) > 0 ? 1000 / (config.maxPerSecond ?? 10) : 0;
  const baseMs = config.reconnectBaseMs ?? 1000;
  const maxMs = config.reconnectMaxMs ?? 60_000;
  const sendTimeoutMs = config.sendTimeoutMs ?? 30_000;
  const tries = Math.max(1, config.submitTries ?? 6);
  const throttleMs = config.throttleBackoffMs ?? 1000;
  const where = `${ep.tls ? 'smpps' : 'smpp'}://${ep.host}:${ep.port}`; // never the credentials

  let session: Session | undefined;
  let bound = false;
  let closing = false;
  let started = false;
  let failures = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let enquireTimer: NodeJS.Timeout | undefined;
  // Until a handler is set, receipts and replies are refused with a temporary error (the
  // SMSC delivers them again later) rather than answered and lost.
  let onDeliver: DeliverHandler = async () => {
    throw new Error('no handler for receipts and replies yet');
  };
  // Everything waiting on the current session: rejected with ConnectionLost when it drops.
  const inFlight = new Set<(err: Error) => void>();
  const boundWaiters = new Set<() => void>();
  let outstanding = 0;
  const windowWaiters: (() => void)[] = [];
  let nextSlot = 0;

  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

  function request(s: Session, pdu: Pdu): Promise<Pdu> {
    return new Promise<Pdu>((resolve, reject) => {
      const timer = setTimeout(() => {
        inFlight.delete(fail);
        reject(new ConnectionLost(`no ${pdu.command}_resp within ${responseMs} ms`));
        s.destroy(); // a session that stops answering is dead: reconnect
      }, responseMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      inFlight.add(fail);
      const written = s.send(pdu, (resp) => {
        clearTimeout(timer);
        inFlight.delete(fail);
        resolve(resp);
      });
      if (!written) {
        clearTimeout(timer);
        inFlight.delete(fail);
        reject(new ConnectionLost('session not writable'));
      }
    });
  }

  function connect(): void {
    if (closing) return;
    const s = smpp.connect({
      host: ep.host,
      port: ep.port,
      tls: ep.tls,
      ...(ep.tls
        ? {
            rejectUnauthorized: config.tlsRejectUnauthorized ?? true,
            ...(isIP(ep.host) ? {} : { servername: ep.host }), // SNI takes names only
            ...(config.tlsCa ? { ca: config.tlsCa } : {}),
          }
        : {}),
    });
    session = s;
    s.on('error', (err: Error) => logger.warn({ smsc: where, err: err.message }, 'SMPP connection error'));
    s.on('close', () => onClose(s));
    s.on(ep.tls ? 'secureConnect' : 'connect', () => void bind(s));
    s.on('enquire_link', (pdu: Pdu) => s.send(pdu.response()));
    s.on('unbind', (pdu: Pdu) => {
      s.send(pdu.response());
      s.close();
    });
    s.on('deliver_sm', (pdu: Pdu) => void deliver(s, pdu));
    // An unknown command must still be answered, or the SMSC's window fills.
    s.on('unknown', (pdu: Pdu) => s.send(pdu.response()));
  }

  async function bind(s: Session): Promise<void> {
    try {
      const resp = await request(
        s,
        new smpp.PDU('bind_transceiver', {
          system_id: ep.systemId,
          password: ep.password,
          system_type: config.systemType ?? '',
          interface_version: 0x34,
        }),
      );
      if (resp.command_status !== 0) {
        logger.warn(
          { smsc: where, systemId: ep.systemId, status: describeSmppStatus(resp.command_status) },
          'SMPP bind refused',
        );
        s.close();
        return;
      }
      bound = true;
      failures = 0;
      logger.info({ smsc: where, systemId: ep.systemId }, 'SMPP bound (transceiver)');
      for (const w of boundWaiters) w();
      boundWaiters.clear();
      enquireTimer = setInterval(() => {
        request(s, new smpp.PDU('enquire_link', {})).catch(() => {}); // a timeout destroys the session
      }, enquireMs);
      enquireTimer.unref();
    } catch (err) {
      logger.warn({ smsc: where, err: (err as Error).message }, 'SMPP bind failed');
    }
  }

  function onClose(s: Session): void {
    if (session !== s) return;
    const wasBound = bound;
    bound = false;
    session = undefined;
    clearInterval(enquireTimer);
    for (const fail of inFlight) fail(new ConnectionLost('SMPP connection closed'));
    inFlight.clear();
    if (closing) return;
    const delay = Math.min(maxMs, baseMs * 2 ** failures);
    failures++;
    if (wasBound) logger.warn({ smsc: where, reconnectInMs: delay }, 'SMPP connection lost');
    reconnectTimer = setTimeout(connect, Math.round(delay / 2 + (Math.random() * delay) / 2));
    reconnectTimer.unref();
  }

  async function deliver(s: Session, pdu: Pdu): Promise<void> {
    const parsed = parseDeliverSm(pdu, config.defaultCountry ?? 'LK');
    if (!parsed) {
      logger.warn({ smsc: where, esmClass: pdu.esm_class }, 'SMPP receipt without message id or state: ignored');
      s.send(pdu.response());
      return;
    }
    try {
      await onDeliver(parsed);
      s.send(pdu.response());
    } catch (err) {
      // Not recorded: a temporary error makes the SMSC deliver it again later.
      logger.warn({ smsc: where, kind: parsed.kind, err: (err as Error).message }, 'SMPP deliver_sm not recorded');
      s.send(pdu.response({ command_status: smpp.errors.ESME_RX_T_APPN }));
    }
  }

  function waitBound(deadline: number): Promise<Session> {
    if (bound && session) return Promise.resolve(session);
    return new Promise<Session>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          boundWaiters.delete(ready);
          reject(new SmsError(`SMPP not bound to ${where} (reconnecting)`, true));
        },
        Math.max(0, deadline - Date.now()),
      );
      const ready = () => {
        clearTimeout(timer);
        resolve(session as Session);
      };
      boundWaiters.add(ready);
    });
  }

  async function takeWindow(): Promise<void> {
    if (outstanding < windowSize) {
      outstanding++;
      return;
    }
    await new Promise<void>((r) => windowWaiters.push(r)); // the slot is handed over, count unchanged
  }
  function releaseWindow(): void {
    const next = windowWaiters.shift();
    if (next) next();
    else outstanding--;
  }
  async function pace(): Promise<void> {
    if (spacingMs === 0) return;
    const now = Date.now();
    const slot = Math.max(now, nextSlot);
    nextSlot = slot + spacingMs;
    if (slot > now) await sleep(slot - now);
  }

  async function submitOnce(s: Session, msg: SmsMessage, enc: ReturnType<typeof encodeText>): Promise<Pdu> {
    await takeWindow();
    try {
      await pace();
      return await request(
        s,
        new smpp.PDU('submit_sm', {
          source_addr_ton: source.ton,
          source_addr_npi: source.npi,
          source_addr: source.addr,
          dest_addr_ton: 1,
          dest_addr_npi: 1,
          destination_addr: msg.to.slice(1),
          registered_delivery: 1, // a receipt for the final outcome, success or failure
          data_coding: enc.data_coding,
          ...(enc.short_message ? { short_message: enc.short_message } : { message_payload: enc.message_payload }),
        }),
      );
    } finally {
      releaseWindow();
    }
  }

  const provider: SmppProvider = {
    name: 'smpp',
    acceptsReplies: source.numeric,
    get bound() {
      return bound;
    },
    start(handler) {
      if (handler) onDeliver = handler;
      if (started) return;
      started = true;
      connect();
    },
    async send(msg: SmsMessage): Promise<SendResult> {
      if (!isE164(msg.to)) throw new SmsError(`recipient "${msg.to}" is not E.164 (use normalizePhone)`, false, 21211);
      if (msg.body.trim() === '') throw new SmsError('message body is empty', false, 21602);
      if (!started) provider.start();
      const enc = encodeText(msg.body, config.allowLong ?? false);
      if (enc.truncated)
        logger.warn({ to: msg.to }, 'SMS text longer than one segment: shortened (SMPP_ALLOW_LONG=false)');
      const deadline = Date.now() + sendTimeoutMs;
      let last: SmsError = new SmsError('SMPP submit not attempted', true);
      for (let attempt = 1; attempt <= tries; attempt++) {
        const s = await waitBound(deadline);
        let resp: Pdu;
        try {
          resp = await submitOnce(s, msg, enc);
        } catch (err) {
          if (!(err instanceof ConnectionLost)) throw err;
          // Outcome unknown (see the header): submitted again once a session is bound.
          last = new SmsError(`SMPP submit outcome unknown: ${err.message}`, true);
          logger.warn({ to: msg.to, attempt }, 'SMPP connection lost awaiting submit_sm_resp: will submit again');
          continue;
        }
        if (resp.command_status === 0) {
          return {
            provider: 'smpp',
            id: String(resp.message_id),
            status: 'queued',
            to: msg.to,
            segments: enc.segments,
          };
        }
        last = submitError(resp.command_status);
        if (!SMPP_THROTTLED.has(resp.command_status)) throw last;
        const wait = Math.min(30_000, throttleMs * 2 ** (attempt - 1));
        if (Date.now() + wait > deadline) break;
        logger.warn({ status: describeSmppStatus(resp.command_status), waitMs: wait }, 'SMSC throttling: backing off');
        await sleep(wait);
      }
      throw last;
    },
    async close() {
      closing = true;
      clearTimeout(reconnectTimer);
      clearInterval(enquireTimer);
      const s = session;
      if (!s) return;
      if (bound) await request(s, new smpp.PDU('unbind', {})).catch(() => {});
      await new Promise<void>((resolve) => {
        if (s.socket.destroyed) resolve();
        else s.close(resolve);
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 2000).unref();
      });
    },
  };
  return provider;
}
