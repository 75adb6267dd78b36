import { describe, expect, it } from 'vitest';
import { isE164, normalizePhone, PhoneNumberError, parsePhone } from './phone.js';

function reasonOf(input: string, country?: string): string {
  try {
    normalizePhone(input, country);
  } catch (err) {
    if (err instanceof PhoneNumberError) return err.reason;
    throw err;
  }
  return 'accepted';
}

describe('normalizePhone', () => {
  it('turns Sri Lankan national and international forms into +94 E.164', () => {
    for (const input of [
      '0771234567',
      '077 123 4567',
      '077-123-4567',
      '(077) 123 4567',
      '+94 77 123 4567',
      '+94771234567',
      '0094771234567',
      '94771234567',
    ]) {
      expect(normalizePhone(input), input).toBe('+94771234567');
    }
    // Every Sri Lankan mobile range (070–078) is accepted.
    for (const p of ['70', '71', '72', '74', '75', '76', '77', '78']) {
      expect(normalizePhone(`0${p}1234567`)).toBe(`+94${p}1234567`);
    }
  });

  it('refuses a Sri Lankan landline for SMS, with a reason, unless asked not to', () => {
    expect(reasonOf('011 234 5678')).toBe('NOT_MOBILE');
    expect(() => normalizePhone('011 234 5678')).toThrow(/fixed line number and cannot receive SMS/);
    expect(normalizePhone('011 234 5678', 'LK', { requireMobile: false })).toBe('+94112345678');
    expect(parsePhone('0771234567')).toEqual({ e164: '+94771234567', country: 'LK', type: 'MOBILE' });
  });

  it('rejects garbage, short and impossible numbers with a clear error', () => {
    expect(reasonOf('call me')).toBe('NOT_A_NUMBER');
    expect(reasonOf('')).toBe('NOT_A_NUMBER');
    expect(reasonOf('123')).toBe('INVALID');
    expect(reasonOf('0771234567890123456789')).toBe('TOO_LONG');
    expect(reasonOf('0111234567')).toBe('INVALID'); // no such Colombo range
    expect(() => normalizePhone('123')).toThrow(/"123" is not a valid LK number/);
  });

  it('keeps numbers from other countries in their own country code', () => {
    expect(normalizePhone('+44 7400 123456')).toBe('+447400123456');
    expect(normalizePhone('07400 123456', 'GB')).toBe('+447400123456');
    expect(reasonOf('07400 123456')).toBe('INVALID'); // read as a Sri Lankan number, which it is not
    expect(normalizePhone('+1 202 555 0143')).toBe('+12025550143'); // US: mobile and fixed share ranges
  });
});

describe('isE164', () => {
  it('accepts only + and digits without a leading zero', () => {
    expect(isE164('+94771234567')).toBe(true);
    expect(isE164('94771234567')).toBe(false);
    expect(isE164('+094771234567')).toBe(false);
    expect(isE164('+94 77 123 4567')).toBe(false);
  });
});
