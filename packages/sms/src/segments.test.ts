import { describe, expect, it } from 'vitest';
import { fitsOneSegment, smsSegments, toGsmSafe } from './segments.js';

describe('smsSegments', () => {
  it('fits 160 GSM-7 characters in one SMS and splits at 153 per part after that', () => {
    expect(smsSegments('a'.repeat(160))).toMatchObject({ encoding: 'GSM-7', segments: 1, units: 160 });
    expect(smsSegments('a'.repeat(161)).segments).toBe(2);
    expect(smsSegments('a'.repeat(306)).segments).toBe(2);
    expect(smsSegments('a'.repeat(307)).segments).toBe(3);
  });

  it('counts extension characters as two septets and never splits an escape pair', () => {
    expect(smsSegments('€'.repeat(80))).toMatchObject({ encoding: 'GSM-7', units: 160, segments: 1 });
    expect(smsSegments(`${'a'.repeat(159)}[`).segments).toBe(2);
    // 152 septets then a 2-septet '€': it cannot straddle parts, so part 1 holds 152.
    expect(smsSegments(`${'a'.repeat(152)}€${'a'.repeat(152)}`).segments).toBe(3);
    expect(smsSegments(`${'a'.repeat(151)}€${'a'.repeat(153)}`).segments).toBe(2);
  });

  it('switches to UCS-2 for one non-GSM character: 70 per SMS, 67 per part', () => {
    const curly = `It\u2019s ${'a'.repeat(65)}`; // 70 units
    expect(smsSegments(curly)).toMatchObject({ encoding: 'UCS-2', segments: 1, nonGsmChars: ['\u2019'] });
    expect(smsSegments(`${curly}a`).segments).toBe(2);
    expect(smsSegments('ක'.repeat(134)).segments).toBe(2);
    expect(smsSegments('ක'.repeat(135)).segments).toBe(3);
  });

  it('never splits a surrogate pair', () => {
    // 66 units + an emoji (2 units): part 1 cannot take it, so it opens part 2.
    expect(smsSegments(`${'ක'.repeat(66)}😀${'ක'.repeat(66)}`).segments).toBe(3);
    expect(smsSegments(`${'ක'.repeat(65)}😀${'ක'.repeat(67)}`).segments).toBe(2);
  });

  it('treats the GSM accented letters as GSM-7 and an empty text as no segment', () => {
    expect(smsSegments('Ünïcode? no: é è à ñ Ø Δ £ ¥').encoding).toBe('UCS-2'); // ï is not GSM
    expect(smsSegments('é è à ñ Ø Δ £ ¥ ¿ ¡').encoding).toBe('GSM-7');
    expect(smsSegments('').segments).toBe(0);
  });
});

describe('toGsmSafe', () => {
  it('replaces typographic look-alikes so a pasted name keeps the message in GSM-7', () => {
    const pasted = 'St\u2019 Anne\u2019s \u201CMain\u201D \u2013 Sub\u00A0station\u2026';
    expect(toGsmSafe(pasted)).toBe('St\' Anne\'s "Main" - Sub station...');
    expect(smsSegments(toGsmSafe(pasted)).encoding).toBe('GSM-7');
    expect(fitsOneSegment(pasted)).toBe(true);
  });

  it('leaves Sinhala and Tamil text alone (they need UCS-2)', () => {
    expect(toGsmSafe('කොළඹ சென்னை')).toBe('කොළඹ சென்னை');
  });
});
