import { describe, expect, it } from 'vitest';
import { parseReply, pickReplyCode, withReplyCode } from './replies.js';
import {
  encodeText,
  messageIdVariants,
  parseDeliverSm,
  parseSmppUrl,
  sourceAddress,
  submitError,
} from './smpp-codec.js';

describe('SMPP codec', () => {
  it('reads smpp:// and smpps:// URLs, refusing what an SMSC would', () => {
    expect(parseSmppUrl('smpp://spms:pa%40ss@smsc.example.lk:2775')).toEqual({
      host: 'smsc.example.lk',
      port: 2775,
      tls: false,
      systemId: 'spms',
      password: 'pa@ss',
    });
    expect(parseSmppUrl('smpps://spms:pw@smsc.example.lk')).toMatchObject({ port: 3550, tls: true });
    expect(() => parseSmppUrl('http://a:b@c')).toThrow(/scheme/);
    expect(() => parseSmppUrl('smpp://smsc.example.lk')).toThrow(/system_id/);
    expect(() => parseSmppUrl('smpp://spms:123456789@h')).toThrow(/password/);
  });

  it('guesses TON/NPI of the sender and says whether it can be answered', () => {
    expect(sourceAddress('+94771234567')).toEqual({ addr: '94771234567', ton: 1, npi: 1, numeric: true });
    expect(sourceAddress('7788')).toEqual({ addr: '7788', ton: 3, npi: 0, numeric: true });
    expect(sourceAddress('SPMS Alerts')).toEqual({ addr: 'SPMS Alerts', ton: 5, npi: 0, numeric: false });
    expect(sourceAddress('7788', 2, 1)).toMatchObject({ ton: 2, npi: 1 });
    expect(() => sourceAddress('A very long sender')).toThrow(/1-11/);
  });

  it('encodes GSM-7 as unpacked septets with escapes, UCS-2 as UTF-16BE', () => {
    const gsm = encodeText('a€[', false);
    expect(gsm.data_coding).toBe(0);
    expect(gsm.short_message).toEqual(Buffer.from([0x61, 0x1b, 0x65, 0x1b, 0x3c]));
    const ucs = encodeText('අ😀', false);
    expect(ucs.data_coding).toBe(8);
    expect(ucs.short_message).toEqual(Buffer.from('0d85d83dde00', 'hex'));
  });

  it('reads a text-only receipt, a TLV receipt, and a reply', () => {
    expect(
      parseDeliverSm({ esm_class: 4, short_message: { message: 'id:0123 sub:001 dlvrd:000 stat:EXPIRED err:027' } }),
    ).toEqual({
      kind: 'receipt',
      receipt: { messageId: '0123', status: 'undelivered', state: 'EXPIRED', errorCode: 27 },
    });
    expect(parseDeliverSm({ esm_class: 0, receipted_message_id: 'ab', message_state: 2 })).toEqual({
      kind: 'receipt',
      receipt: { messageId: 'ab', status: 'delivered', state: 'DELIVRD' },
    });
    expect(parseDeliverSm({ esm_class: 4, short_message: { message: 'garbage' } })).toBeUndefined();
    expect(
      parseDeliverSm({
        esm_class: 0,
        source_addr: '94771234567',
        source_addr_ton: 1,
        short_message: { message: 'ACK' },
      }),
    ).toEqual({ kind: 'message', message: { from: '+94771234567', to: '', text: 'ACK' } });
  });

  it('classifies refusals and matches message ids across bases', () => {
    expect(submitError(0x58)).toMatchObject({ retry: true, code: 0x58 });
    expect(submitError(0x45)).toMatchObject({ retry: true });
    expect(submitError(0x0b)).toMatchObject({ retry: false });
    expect(submitError(0x400)).toMatchObject({ retry: false });
    expect(messageIdVariants('255')).toEqual(['255', 'ff', 'FF', '597']);
    expect(messageIdVariants('1a2b')).toEqual(['1a2b', '6699']);
  });
});

describe('replies', () => {
  it('understands ACK, ACK <code>, ACK ALL and nothing else', () => {
    expect(parseReply(' ack ')).toEqual({ kind: 'ack' });
    expect(parseReply('ACK 123')).toEqual({ kind: 'ack', code: '123' });
    expect(parseReply('Ack#123.')).toEqual({ kind: 'ack', code: '123' });
    expect(parseReply('ack all')).toEqual({ kind: 'ack', all: true });
    expect(parseReply('thanks')).toEqual({ kind: 'other' });
    expect(parseReply('ACKNOWLEDGED')).toEqual({ kind: 'other' });
    expect(parseReply('ACK 1 2')).toEqual({ kind: 'other' });
  });

  it('adds a code only while the text stays one segment', () => {
    expect(withReplyCode('SPMS ALERT: X - CEB supply lost 27 Nov 14:05', '123')).toBe(
      'SPMS ALERT: X - CEB supply lost 27 Nov 14:05 Reply ACK 123',
    );
    expect(withReplyCode('x'.repeat(150), '123')).toBe(`${'x'.repeat(150)} ACK 123`);
    expect(withReplyCode('x'.repeat(158), '123')).toBeUndefined();
    expect(pickReplyCode(5, new Set())).toBe('105');
    expect(pickReplyCode(5, new Set(['105']))).toBe('112');
  });
});
