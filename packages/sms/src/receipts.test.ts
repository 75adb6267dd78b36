import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  isFinalStatus,
  type MessageStatus,
  parseStatusCallback,
  StatusCallbackError,
  shouldUpdateStatus,
  verifyTwilioSignature,
} from './receipts.js';

const authToken = '12345678901234567890123456789012';
const url = 'https://alerts.example.lk/sms/status?site=42';
const sid = `SM${'ab'.repeat(16)}`;
const params = {
  AccountSid: `AC${'cd'.repeat(16)}`,
  ApiVersion: '2010-04-01',
  From: '+15005550006',
  MessageSid: sid,
  MessageStatus: 'undelivered',
  SmsSid: sid,
  SmsStatus: 'undelivered',
  To: '+94771234567',
  ErrorCode: '30003',
};

// Twilio's documented scheme, computed independently of the SDK: HMAC-SHA1 over the URL
// followed by every POST field name and value, sorted by name, keyed with the auth token.
function sign(u: string, p: Record<string, string>, token = authToken, hash = 'sha1'): string {
  const data =
    u +
    Object.keys(p)
      .sort()
      .map((k) => k + p[k])
      .join('');
  return createHmac(hash, token).update(data, 'utf8').digest('base64');
}

describe('verifyTwilioSignature', () => {
  const signature = sign(url, params);

  it('accepts the request Twilio signed', () => {
    expect(verifyTwilioSignature({ authToken, url, params, signature })).toBe(true);
  });

  it('rejects a tampered field, a missing header, another token and another URL', () => {
    expect(
      verifyTwilioSignature({ authToken, url, params: { ...params, MessageStatus: 'delivered' }, signature }),
    ).toBe(false);
    expect(verifyTwilioSignature({ authToken, url, params: { ...params, Extra: 'x' }, signature })).toBe(false);
    expect(verifyTwilioSignature({ authToken, url, params, signature: undefined })).toBe(false);
    expect(verifyTwilioSignature({ authToken, url, params, signature: '' })).toBe(false);
    expect(verifyTwilioSignature({ authToken: `${authToken.slice(1)}x`, url, params, signature })).toBe(false);
    // What the app sees behind a proxy when it does not rebuild the public URL:
    expect(
      verifyTwilioSignature({ authToken, url: 'http://10.0.0.5:3000/sms/status?site=42', params, signature }),
    ).toBe(false);
    expect(verifyTwilioSignature({ authToken, url: 'https://alerts.example.lk/sms/status', params, signature })).toBe(
      false,
    );
  });

  it('checks HMAC-SHA256 when the signature-settings header asks for it, and only then', () => {
    const sha256 = sign(url, params, authToken, 'sha256');
    const signatureSettings = 'key=webhooks_sharedkey_1,algorithm=HMAC_SHA256';
    expect(verifyTwilioSignature({ authToken, url, params, signature: sha256, signatureSettings })).toBe(true);
    expect(verifyTwilioSignature({ authToken, url, params, signature: sha256 })).toBe(false);
    expect(verifyTwilioSignature({ authToken, url, params, signature, signatureSettings })).toBe(false);
  });

  it('accepts the URL with or without the default port, as Twilio may sign either', () => {
    expect(
      verifyTwilioSignature({ authToken, url: 'https://alerts.example.lk:443/sms/status?site=42', params, signature }),
    ).toBe(true);
  });
});

describe('parseStatusCallback', () => {
  it('reads sid, status, error code and numbers', () => {
    expect(parseStatusCallback(params)).toEqual({
      messageSid: sid,
      status: 'undelivered',
      errorCode: 30003,
      to: '+94771234567',
      from: '+15005550006',
      accountSid: params.AccountSid,
    });
    expect(parseStatusCallback({ SmsSid: sid, SmsStatus: 'delivered' })).toEqual({
      messageSid: sid,
      status: 'delivered',
    });
    expect(parseStatusCallback({ MessageSid: sid, MessageStatus: 'sent', ErrorCode: '' })).toEqual({
      messageSid: sid,
      status: 'sent',
    });
  });

  it('rejects a callback without a valid sid or with an unknown status', () => {
    expect(() => parseStatusCallback({ MessageStatus: 'sent' })).toThrow(StatusCallbackError);
    expect(() => parseStatusCallback({ MessageSid: 'SM123', MessageStatus: 'sent' })).toThrow(/MessageSid/);
    expect(() => parseStatusCallback({ MessageSid: sid, MessageStatus: 'exploded' })).toThrow(/unknown MessageStatus/);
    expect(() => parseStatusCallback({ MessageSid: sid, MessageStatus: 'constructor' })).toThrow(StatusCallbackError);
  });
});

describe('status ordering', () => {
  function apply(sequence: MessageStatus[]): MessageStatus | undefined {
    let current: MessageStatus | undefined;
    for (const s of sequence) if (shouldUpdateStatus(current, s)) current = s;
    return current;
  }

  it('a late sent or queued never overwrites delivered', () => {
    expect(apply(['queued', 'delivered', 'sent'])).toBe('delivered');
    expect(apply(['sent', 'queued'])).toBe('sent');
    expect(apply(['accepted', 'queued', 'sending', 'sent', 'delivered'])).toBe('delivered');
  });

  it('the first terminal outcome wins; only read follows delivered', () => {
    expect(apply(['sent', 'undelivered', 'delivered'])).toBe('undelivered');
    expect(apply(['delivered', 'failed'])).toBe('delivered');
    expect(apply(['delivered', 'read'])).toBe('read');
    expect(isFinalStatus('undelivered')).toBe(true);
    expect(isFinalStatus('sent')).toBe(false);
  });
});
