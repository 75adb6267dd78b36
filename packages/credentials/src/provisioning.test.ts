import { describe, expect, it } from 'vitest';
import {
  decideProvision,
  NOT_AWAITING_MSG,
  type ProvisionProfile,
  type ProvisionRequest,
  parseClaimRequest,
  parseProvisionRequest,
  provisionSettingProblems,
  provisionSuccess,
} from './provisioning.js';

const base = { deviceName: 'P_0001', provisionDeviceKey: 'key-abcdefgh', provisionDeviceSecret: 'secret-0123456789' };
const req = (extra: Record<string, unknown> = {}): ProvisionRequest => {
  const r = parseProvisionRequest({ ...base, ...extra });
  if (!r.ok) throw new Error(r.response.errorMsg);
  return r.request;
};
/** A registered device still awaiting provisioning. */
const fresh = { hasCredentials: false, everConnected: false };
const profile = (strategy: ProvisionProfile['strategy'], deviceCredentials = true): ProvisionProfile => ({
  id: 'p1',
  strategy,
  deviceCredentials,
});

describe('parseProvisionRequest', () => {
  it('takes ThingsBoard field names, with or without device credentials', () => {
    expect(req().credentials).toBeNull();
    expect(req({ credentialsType: 'ACCESS_TOKEN', token: 'tok' }).credentials).toEqual({
      type: 'ACCESS_TOKEN',
      token: 'tok',
    });
    expect(req({ credentialsType: 'MQTT_BASIC', clientId: 'c', username: 'u', password: 'p' }).credentials).toEqual({
      type: 'MQTT_BASIC',
      clientId: 'c',
      username: 'u',
      password: 'p',
    });
  });

  it('answers FAILURE with what to fix', () => {
    const bad = (body: unknown) => {
      const r = parseProvisionRequest(body);
      return r.ok ? null : r.response;
    };
    expect(bad([])).toEqual({ status: 'FAILURE', errorMsg: 'provision request must be a JSON object' });
    expect(bad({ ...base, deviceName: undefined })?.errorMsg).toBe('deviceName is required');
    expect(bad({ ...base, provisionDeviceSecret: 5 })?.errorMsg).toBe('provisionDeviceSecret must be a string');
    expect(bad({ ...base, deviceName: 'a b' })?.errorMsg).toMatch(/deviceName must be 1-64/);
    expect(bad({ ...base, credentialsType: 'X509_CERTIFICATE', hash: 'x' })?.errorMsg).toMatch(/X509.*not supported/);
    expect(bad({ ...base, credentialsType: 'ACCESS_TOKEN' })?.errorMsg).toMatch(/needs "token"/);
  });
});

describe('decideProvision', () => {
  it('NOT_FOUND when no profile matched or provisioning is disabled', () => {
    expect(decideProvision(null, null, req())).toMatchObject({ action: 'refuse', response: { status: 'NOT_FOUND' } });
    expect(decideProvision(profile('disabled'), null, req())).toMatchObject({ response: { status: 'NOT_FOUND' } });
  });

  it('allow_create creates a new name and refuses an existing one', () => {
    expect(decideProvision(profile('allow_create'), null, req())).toEqual({ action: 'create' });
    expect(
      decideProvision(profile('allow_create'), { id: 'd', profileId: 'p1', provisionedAt: null, ...fresh }, req()),
    ).toMatchObject({ response: { status: 'FAILURE' } });
  });

  it('pre_provisioned provisions a registered name of that profile once', () => {
    const p = profile('pre_provisioned');
    expect(decideProvision(p, null, req())).toMatchObject({ response: { status: 'FAILURE' } });
    expect(decideProvision(p, { id: 'd', profileId: 'other', provisionedAt: null, ...fresh }, req())).toMatchObject({
      response: { status: 'FAILURE' },
    });
    expect(decideProvision(p, { id: 'd', profileId: 'p1', provisionedAt: null, ...fresh }, req())).toEqual({
      action: 'provision',
      deviceId: 'd',
    });
    expect(decideProvision(p, { id: 'd', profileId: 'p1', provisionedAt: new Date(), ...fresh }, req())).toMatchObject({
      response: { status: 'FAILURE', errorMsg: 'The device was already provisioned' },
    });
  });

  it('pre_provisioned refuses a device with credentials or one that has connected (a working device)', () => {
    const p = profile('pre_provisioned');
    const notAwaiting = { response: { status: 'FAILURE', errorMsg: NOT_AWAITING_MSG } };
    const device = { id: 'd', profileId: 'p1', provisionedAt: null };
    expect(decideProvision(p, { ...device, hasCredentials: true, everConnected: false }, req())).toMatchObject(
      notAwaiting,
    );
    expect(decideProvision(p, { ...device, hasCredentials: false, everConnected: true }, req())).toMatchObject(
      notAwaiting,
    );
  });

  it('device credentials: only when the profile allows, and only strong ones', () => {
    const strong = req({ credentialsType: 'MQTT_BASIC', clientId: 'c1', username: 'u1', password: 'long-enough-pw' });
    expect(decideProvision(profile('allow_create'), null, strong)).toEqual({ action: 'create' });
    expect(decideProvision(profile('allow_create', false), null, strong)).toMatchObject({
      response: { status: 'FAILURE', errorMsg: expect.stringMatching(/does not accept device-supplied/) },
    });
    const weak = req({ credentialsType: 'MQTT_BASIC', clientId: 'c1', username: 'u1', password: 'short' });
    expect(decideProvision(profile('allow_create'), null, weak)).toMatchObject({
      response: { status: 'FAILURE', errorMsg: expect.stringMatching(/^credentials: password/) },
    });
    const noPassword = req({ credentialsType: 'MQTT_BASIC', clientId: 'c1', username: 'u1' });
    expect(decideProvision(profile('allow_create'), null, noPassword)).toMatchObject({
      response: { errorMsg: expect.stringMatching(/need a password/) },
    });
    const shortToken = req({ credentialsType: 'ACCESS_TOKEN', token: 'abcdefgh' });
    expect(decideProvision(profile('allow_create'), null, shortToken)).toMatchObject({
      response: { errorMsg: expect.stringMatching(/access token is too short/) },
    });
  });
});

describe('responses and settings', () => {
  it('builds ThingsBoard SUCCESS answers', () => {
    expect(provisionSuccess({ type: 'ACCESS_TOKEN', token: 't' })).toEqual({
      status: 'SUCCESS',
      credentialsType: 'ACCESS_TOKEN',
      credentialsValue: 't',
    });
    expect(provisionSuccess({ type: 'MQTT_BASIC', clientId: 'c', username: 'u', password: 'p' })).toEqual({
      status: 'SUCCESS',
      credentialsType: 'MQTT_BASIC',
      credentialsValue: { clientId: 'c', userName: 'u', password: 'p' },
    });
  });

  it('checks provision keys and secrets', () => {
    expect(provisionSettingProblems('key-abcdefgh', 'secret-0123456789')).toEqual([]);
    expect(provisionSettingProblems('short', 'tiny')).toEqual([
      'provisioning.key is too short: use at least 8 characters',
      'provisioning.secret is too short: use at least 16 characters',
    ]);
  });

  it('parses claim requests', () => {
    expect(parseClaimRequest({ secretKey: 's', durationMs: 60000 })).toEqual({
      ok: true,
      request: { secretKey: 's', durationMs: 60000 },
    });
    expect(parseClaimRequest({ secretKey: 's' })).toMatchObject({ request: { durationMs: 86_400_000 } });
    expect(parseClaimRequest({})).toMatchObject({ ok: false });
    expect(parseClaimRequest({ secretKey: 's', durationMs: -1 })).toMatchObject({ ok: false });
  });
});
