/**
 * Phone numbers for SMS: anything an operator types → E.164, which Twilio requires.
 *
 * libphonenumber-js ships three metadata sets. 'min' and 'mobile' cannot tell a mobile from
 * a fixed line (`getType()` returns undefined with 'min'; 'mobile' only knows mobile
 * patterns and reports a landline as invalid, which gives a misleading error). 'max'
 * (~145 kB, server-side only here) has per-type patterns, so a Sri Lankan landline
 * (011 …) is recognised and refused with a clear reason instead of Twilio's 21614 later.
 */
import { type CountryCode, type NumberType, parsePhoneNumberWithError } from 'libphonenumber-js/max';

export type PhoneErrorReason = 'NOT_A_NUMBER' | 'INVALID_COUNTRY' | 'TOO_SHORT' | 'TOO_LONG' | 'INVALID' | 'NOT_MOBILE';

export class PhoneNumberError extends Error {
  override name = 'PhoneNumberError';
  constructor(
    readonly input: string,
    readonly reason: PhoneErrorReason,
    message: string,
  ) {
    super(message);
  }
}

export interface PhoneNumberInfo {
  /** +94771234567 */
  e164: string;
  /** ISO 3166 country, e.g. 'LK' (undefined for non-geographic numbers). */
  country: string | undefined;
  /** libphonenumber's type, e.g. 'MOBILE', 'FIXED_LINE', 'FIXED_LINE_OR_MOBILE' (US/CA). */
  type: NumberType;
}

// Types that can receive an SMS, or might: the US and Canada do not separate mobile and
// fixed-line ranges, and an unknown type (undefined) is left for Twilio to judge.
const SMS_CAPABLE: ReadonlySet<NumberType> = new Set<NumberType>([
  'MOBILE',
  'FIXED_LINE_OR_MOBILE',
  'PERSONAL_NUMBER',
  'VOIP',
  undefined,
]);

export interface NormalizeOptions {
  /** Refuse numbers the metadata knows are not mobile (landlines, premium rate…). Default true. */
  requireMobile?: boolean;
}

/** Parses and checks a number; throws PhoneNumberError with a reason an operator can act on. */
export function parsePhone(input: string, defaultCountry = 'LK', opts: NormalizeOptions = {}): PhoneNumberInfo {
  const requireMobile = opts.requireMobile ?? true;
  // A number written in the international "00" prefix form (0094 77…) parses with the
  // country's calling code only when the country is set, which it always is here.
  let parsed: ReturnType<typeof parsePhoneNumberWithError>;
  try {
    parsed = parsePhoneNumberWithError(input, defaultCountry as CountryCode);
  } catch (err) {
    const reason = (err instanceof Error ? err.message : 'NOT_A_NUMBER') as PhoneErrorReason;
    const known: PhoneErrorReason[] = ['NOT_A_NUMBER', 'INVALID_COUNTRY', 'TOO_SHORT', 'TOO_LONG'];
    const r = known.includes(reason) ? reason : 'NOT_A_NUMBER';
    throw new PhoneNumberError(input, r, `"${input}" is not a phone number (${r.toLowerCase().replaceAll('_', ' ')})`);
  }
  if (!parsed.isValid()) {
    throw new PhoneNumberError(
      input,
      'INVALID',
      `"${input}" is not a valid ${parsed.country ?? `+${parsed.countryCallingCode}`} number (check the digits; Sri Lankan mobiles are 07x xxx xxxx)`,
    );
  }
  const type = parsed.getType();
  if (requireMobile && !SMS_CAPABLE.has(type)) {
    throw new PhoneNumberError(
      input,
      'NOT_MOBILE',
      `"${input}" is a ${String(type).toLowerCase().replaceAll('_', ' ')} number and cannot receive SMS`,
    );
  }
  return { e164: parsed.number, country: parsed.country, type };
}

/** `'077 123 4567'` → `'+94771234567'`; throws PhoneNumberError for garbage or landlines. */
export function normalizePhone(input: string, defaultCountry = 'LK', opts: NormalizeOptions = {}): string {
  return parsePhone(input, defaultCountry, opts).e164;
}

/** Shape check only (what Twilio calls E.164): '+', then 7–15 digits, no leading zero. */
export function isE164(value: string): boolean {
  return /^\+[1-9]\d{6,14}$/.test(value);
}
