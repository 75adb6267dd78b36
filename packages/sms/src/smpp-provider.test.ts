/**
 * The SMPP provider against a local SMSC (the smpp package's own server side) over real
 * sockets: binds, submit_sm contents and encodings, receipts and replies, throttling, the
 * window, and a connection dropped with submits outstanding.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeSmsc, startFakeSmsc } from './fake-smsc.js';
import type { DeliverSm } from './smpp-codec.js';
import { createSmppProvider, type SmppProvider, type SmppSmsConfig } from './smpp-provider.js';
import { SmsError, type SmsLogger } from './types.js';

const quiet: SmsLogger = { info: () => {}, warn: () => {} };
const to = '+94771234567';
let smsc: FakeSmsc;
const open: SmppProvider[] = [];

function provider(over: Partial<SmppSmsConfig> = {}): SmppProvider {
  const p = createSmppProvider(
    {
      url: smsc.url(),
      sourceAddr: 'SPMS',
      maxPerSecond: 0,
      reconnectBaseMs: 20,
      reconnectMaxMs: 100,
      throttleBackoffMs: 10,
      sendTimeoutMs: 5000,
      ...over,
    },
    quiet,
  );
  open.push(p);
  return p;
}

/** Resolves once `cond` holds, checking on every turn of the event loop (no fixed sleeps). */
async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

beforeEach(async () => {
  smsc = await startFakeSmsc();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.close()));
  await smsc.close();
});

describe('SMPP provider', () => {
  it('binds as a transceiver with the URL credentials and submits GSM-7 text with the sender TON/NPI', async () => {
    const p = provider();
    const sent = await p.send({ to, body: 'SPMS ALERT: Kollupitiya - CEB supply lost 27 Nov 14:05 [x] €5' });
    expect(smsc.binds).toEqual([{ command: 'bind_transceiver', systemId: 'spms', password: 'secret1' }]);
    expect(sent).toMatchObject({ provider: 'smpp', status: 'queued', to, segments: 1 });
    expect(sent.id).toBe(smsc.accepted[0]?.messageId);
    expect(smsc.submits[0]).toMatchObject({
      sourceAddr: 'SPMS',
      sourceTon: 5, // alphanumeric
      sourceNpi: 0,
      destinationAddr: '94771234567',
      destTon: 1,
      destNpi: 1,
      dataCoding: 0, // SMSC default alphabet, GSM 03.38 (extension characters escaped)
      registeredDelivery: 1,
      text: 'SPMS ALERT: Kollupitiya - CEB supply lost 27 Nov 14:05 [x] €5',
      payload: false,
    });
    expect(p.acceptsReplies).toBe(false);
  });

  it('uses UCS-2 for text outside GSM-7, a numeric sender as international, and keeps long texts to one segment', async () => {
    const p = provider({ sourceAddr: '+94112345678' });
    await p.send({ to, body: 'SPMS ALERT: කොළඹ - CEB supply lost' });
    expect(smsc.submits[0]).toMatchObject({ sourceAddr: '94112345678', sourceTon: 1, sourceNpi: 1, dataCoding: 8 });
    expect(smsc.submits[0]?.text).toBe('SPMS ALERT: කොළඹ - CEB supply lost');
    expect(p.acceptsReplies).toBe(true);

    const long = `SPMS ALERT: ${'Kollupitiya '.repeat(20)}`;
    const sent = await p.send({ to, body: long });
    expect(sent.segments).toBe(1);
    expect(smsc.submits[1]?.text.length).toBeLessThanOrEqual(160);
    expect(smsc.submits[1]?.text.endsWith('..')).toBe(true);
    expect(smsc.submits[1]?.payload).toBe(false);
  });

  it('sends a long text whole in message_payload when long texts are allowed', async () => {
    const p = provider({ allowLong: true });
    const long = `SPMS ALERT: ${'Kollupitiya '.repeat(20)}`.trim();
    const sent = await p.send({ to, body: long });
    expect(sent.segments).toBe(2);
    expect(smsc.submits[0]).toMatchObject({ payload: true, text: long, dataCoding: 0 });
  });

  it('passes receipts (TLV and text forms) and replies to the handler, answering deliver_sm only once handled', async () => {
    const seen: DeliverSm[] = [];
    let fail = false;
    const p = provider({ sourceAddr: '+94112345678' });
    p.start(async (d) => {
      if (fail) throw new Error('database down');
      seen.push(d);
    });
    await until(() => smsc.bound() === 1, 'bind');
    expect(await smsc.receipt('1a2b', 'DELIVRD', { tlv: true })).toBe(0);
    expect(await smsc.receipt('1a2c', 'UNDELIV', { err: '034' })).toBe(0);
    expect(await smsc.receipt('1a2d', 'REJECTD')).toBe(0);
    expect(await smsc.deliver({ source_addr: '94771234567', source_addr_ton: 1, short_message: 'ack 123' })).toBe(0);
    expect(await smsc.deliver({ source_addr: '0771234568', source_addr_ton: 2, short_message: 'ACK' })).toBe(0);
    expect(seen).toEqual([
      { kind: 'receipt', receipt: { messageId: '1a2b', status: 'delivered', state: 'DELIVRD' } },
      { kind: 'receipt', receipt: { messageId: '1a2c', status: 'undelivered', state: 'UNDELIV', errorCode: 34 } },
      { kind: 'receipt', receipt: { messageId: '1a2d', status: 'failed', state: 'REJECTD' } },
      { kind: 'message', message: { from: '+94771234567', to: '', text: 'ack 123' } },
      { kind: 'message', message: { from: '+94771234568', to: '', text: 'ACK' } },
    ]);
    // Not recorded → a temporary error, so the SMSC delivers it again later.
    fail = true;
    expect(await smsc.receipt('1a2e', 'DELIVRD')).toBe(0x64); // ESME_RX_T_APPN
  });

  it('backs off on ESME_RTHROTTLED and submits again on the same session', async () => {
    const p = provider();
    smsc.reply('throttle', 'throttle', 'ok');
    const sent = await p.send({ to, body: 'throttled once or twice' });
    expect(smsc.submits).toHaveLength(3);
    expect(smsc.accepted).toHaveLength(1);
    expect(sent.id).toBe(smsc.accepted[0]?.messageId);
    expect(smsc.binds).toHaveLength(1);
  });

  it('gives up with a retryable error when throttling outlasts the send timeout, and a permanent one for a refused address', async () => {
    const p = provider({ throttleBackoffMs: 50, sendTimeoutMs: 120 });
    smsc.reply('throttle', 'throttle', 'throttle', 'throttle');
    const err = await p.send({ to, body: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SmsError);
    expect(err).toMatchObject({ retry: true, code: 0x58 });
    expect(smsc.accepted).toHaveLength(0);
    smsc.clearReplies();
    smsc.reply({ status: 0x0b }); // ESME_RINVDSTADR
    await expect(p.send({ to, body: 'y' })).rejects.toMatchObject({ retry: false, code: 0x0b });
  });

  it('keeps at most `window` submits outstanding', async () => {
    const p = provider({ window: 3 });
    smsc.reply(...Array<'hold'>(3).fill('hold'));
    const sends = Array.from({ length: 8 }, (_, i) => p.send({ to, body: `text ${i}` }));
    await until(() => smsc.submits.length === 3, 'three submits');
    // Give the provider every chance to exceed its window before the SMSC answers.
    await new Promise((r) => setTimeout(r, 100));
    expect(smsc.submits).toHaveLength(3);
    smsc.drop(); // the held three are lost with the connection and submitted again
    await Promise.all(sends);
    expect(smsc.maxOutstanding).toBe(3);
    expect(smsc.accepted.map((s) => s.text).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `text ${i}`).sort());
  });

  it('a connection dropped mid-window: nothing lost, nothing accepted twice', async () => {
    const p = provider({ window: 4 });
    // The first two are answered; the next four reach the SMSC but the connection drops
    // before their answers: the SMSC never accepted them.
    smsc.reply('ok', 'ok', 'hold', 'hold', 'hold', 'hold');
    const bodies = Array.from({ length: 10 }, (_, i) => `alert ${i}`);
    const sends = bodies.map((body) => p.send({ to, body }));
    await until(() => smsc.submits.length === 6, 'six submits');
    smsc.drop();
    const results = await Promise.all(sends);
    expect(smsc.binds).toHaveLength(2); // reconnected once
    const accepted = smsc.accepted.map((s) => s.text);
    expect(accepted.sort()).toEqual([...bodies].sort()); // every text once
    expect(new Set(results.map((r) => r.id)).size).toBe(10);
    // The two answered before the drop were not submitted again; the four held ones were.
    expect(smsc.submits).toHaveLength(14);
    const answeredFirst = smsc.submits.slice(0, 2).map((s) => s.text);
    for (const t of answeredFirst) expect(smsc.submits.filter((s) => s.text === t)).toHaveLength(1);
  });

  it('sends enquire_link while bound, and reconnects when the SMSC stops answering them', async () => {
    const p = provider({ enquireLinkMs: 30, responseTimeoutMs: 100 });
    p.start();
    await until(() => smsc.enquireLinks >= 2, 'enquire_link');
    smsc.answerEnquireLink = false;
    await until(() => smsc.binds.length >= 2, 'a new bind after the silent enquire_link');
    smsc.answerEnquireLink = true;
    await until(() => p.bound, 'bound again');
    await expect(p.send({ to, body: 'after reconnect' })).resolves.toMatchObject({ provider: 'smpp' });
  });

  it('a refused bind is retried with back-off; sends fail (retryable) meanwhile', async () => {
    const p = createSmppProvider(
      { url: smsc.url('spms', 'wrong'), sourceAddr: 'SPMS', reconnectBaseMs: 20, sendTimeoutMs: 200 },
      quiet,
    );
    open.push(p);
    await expect(p.send({ to, body: 'x' })).rejects.toMatchObject({ retry: true });
    await until(() => smsc.binds.length >= 2, 'a second bind attempt');
    expect(smsc.submits).toHaveLength(0);
  });

  it('smpps: binds over TLS when the certificate verifies, and refuses an unverified SMSC', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spms-smpps-'));
    try {
      await promisify(execFile)('openssl', [
        ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=smsc'],
        ...['-addext', 'subjectAltName=IP:127.0.0.1'],
        ...['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      ]);
      const cert = readFileSync(join(dir, 'cert.pem'));
      const secure = await startFakeSmsc({ tls: { key: readFileSync(join(dir, 'key.pem')), cert } });
      try {
        expect(secure.url()).toMatch(/^smpps:/);
        const trusted = provider({ url: secure.url(), tlsCa: cert });
        await expect(trusted.send({ to, body: 'over TLS' })).resolves.toMatchObject({ provider: 'smpp' });
        expect(secure.accepted.map((s) => s.text)).toEqual(['over TLS']);
        const untrusted = provider({ url: secure.url(), sendTimeoutMs: 300 });
        await expect(untrusted.send({ to, body: 'x' })).rejects.toMatchObject({ retry: true });
        expect(secure.accepted).toHaveLength(1);
      } finally {
        await Promise.all(open.splice(0).map((p) => p.close()));
        await secure.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
