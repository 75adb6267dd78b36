import { describe, expect, it } from 'vitest';
import {
  accessTokenKey,
  basicLookupKeys,
  credentialsKey,
  shortSecretProblems,
  validateCredentials,
} from './matching.js';
import { generateCredentials, hashSecret, verifySecret } from './secrets.js';

describe('ThingsBoard credential matching', () => {
  it('finds client-id-only credentials when the username is empty', () => {
    const key = credentialsKey({ type: 'MQTT_BASIC', clientId: 'dev1' });
    expect(basicLookupKeys('dev1', '').keys).toEqual([key]);
    expect(basicLookupKeys('dev1', undefined).keys).toEqual([key]);
  });

  it('tries (client id, username) first, then the username alone', () => {
    const both = credentialsKey({ type: 'MQTT_BASIC', clientId: 'c', username: 'u' });
    const userOnly = credentialsKey({ type: 'MQTT_BASIC', username: 'u' });
    expect(basicLookupKeys('c', 'u').keys).toEqual([both, userOnly]);
  });

  it('lets the username alone match an access token', () => {
    expect(credentialsKey({ type: 'MQTT_BASIC', username: 'TOKEN123' })).toBe(accessTokenKey('TOKEN123'));
    expect(basicLookupKeys('anything', 'TOKEN123').keys).toContain(accessTokenKey('TOKEN123'));
  });

  it('keeps pairs unambiguous', () => {
    const a = credentialsKey({ type: 'MQTT_BASIC', clientId: 'a|b', username: 'c' });
    const b = credentialsKey({ type: 'MQTT_BASIC', clientId: 'a', username: 'b|c' });
    expect(a).not.toBe(b);
  });

  it('rejects malformed and weak credentials with a reason', () => {
    expect(() => validateCredentials({ type: 'MQTT_BASIC' })).toThrow(/client id or a username/);
    expect(() => validateCredentials({ type: 'ACCESS_TOKEN', token: 'abc' })).toThrow(/too short/);
    expect(() => validateCredentials({ type: 'ACCESS_TOKEN', token: 'has space 123' })).toThrow(/printable/);
    expect(() => validateCredentials({ type: 'MQTT_BASIC', clientId: 'c', password: '12' })).toThrow(/password/);
    expect(() =>
      validateCredentials({ type: 'MQTT_BASIC', clientId: 'c', username: 'u', password: 'secret1' }),
    ).not.toThrow();
  });
});

describe('minimum secret lengths for new credentials', () => {
  it('wants 20-character access tokens and 10-character passwords; says which and why', () => {
    expect(shortSecretProblems({ type: 'ACCESS_TOKEN', token: 'a'.repeat(19) })[0]).toMatch(/at least 20/);
    expect(shortSecretProblems({ type: 'ACCESS_TOKEN', token: 'a'.repeat(20) })).toEqual([]);
    expect(shortSecretProblems({ type: 'MQTT_BASIC', clientId: 'c', password: 'p'.repeat(9) })[0]).toMatch(
      /password is too short: use at least 10/,
    );
    expect(shortSecretProblems({ type: 'MQTT_BASIC', clientId: 'c', password: 'p'.repeat(10) })).toEqual([]);
    expect(shortSecretProblems({ type: 'MQTT_BASIC', clientId: 'c' })).toEqual([]);
    expect(shortSecretProblems(generateCredentials('ACCESS_TOKEN', 'd'))).toEqual([]);
    expect(shortSecretProblems(generateCredentials('MQTT_BASIC', 'd'))).toEqual([]);
  });
});

describe('secret hashing', () => {
  it('verifies supplied (scrypt) and generated (sha256) secrets and nothing else', async () => {
    const supplied = await hashSecret('firmware-pw', 'supplied');
    expect(supplied).toMatch(/^scrypt\$/);
    expect(supplied).not.toContain('firmware-pw');
    expect(await verifySecret('firmware-pw', supplied)).toBe(true);
    expect(await verifySecret('firmware-px', supplied)).toBe(false);
    const generated = generateCredentials('MQTT_BASIC', '0003_MSAN');
    if (generated.type !== 'MQTT_BASIC' || !generated.password) throw new Error('expected a password');
    const h = await hashSecret(generated.password, 'generated');
    expect(await verifySecret(generated.password, h)).toBe(true);
    expect(await verifySecret(`${generated.password}x`, h)).toBe(false);
    expect(await verifySecret('x', 'bogus$format')).toBe(false);
  });
});
