import { describe, expect, it } from 'vitest';
import {
  choosePolicy,
  decideStep,
  type EscalationPolicyRule,
  nextTierAfter,
  type TierMember,
  tierOutcomes,
} from './escalation.js';
import type { AlertSubject } from './types.js';

const subject: AlertSubject = { deviceId: 'dev-1', line: 1, region: 'Western', customer: 'SLT' };
const tiers = [
  { tier: 1, delaySec: 0, recipientIds: ['a'], groupIds: [] },
  { tier: 2, delaySec: 600, recipientIds: [], groupIds: ['g'] },
];
const policy = (over: Partial<EscalationPolicyRule> = {}): EscalationPolicyRule => ({
  id: 'p',
  name: 'P',
  enabled: true,
  scopeKind: 'all',
  scopeValue: null,
  severities: [],
  tiers,
  createdAt: 1000,
  ...over,
});

describe('choosePolicy', () => {
  it('takes the most specific enabled match, then the oldest', () => {
    const all = policy({ id: 'all' });
    const region = policy({ id: 'region', scopeKind: 'region', scopeValue: 'Western', createdAt: 5 });
    const olderRegion = policy({ id: 'older', scopeKind: 'region', scopeValue: 'Western', createdAt: 1 });
    const device = policy({ id: 'device', scopeKind: 'device', scopeValue: 'dev-1', enabled: false });
    const customer = policy({ id: 'customer', scopeKind: 'customer', scopeValue: 'SLT' });
    expect(choosePolicy([all, region, olderRegion], subject, 'major')?.id).toBe('older');
    expect(choosePolicy([all, region, customer, device], subject, 'major')?.id).toBe('customer');
    expect(choosePolicy([all, device], subject, 'major')?.id).toBe('all');
  });

  it('filters by severity and scope; a policy without tiers matches nothing', () => {
    const critical = policy({ id: 'crit', severities: ['critical'] });
    const south = policy({ id: 'south', scopeKind: 'region', scopeValue: 'Southern' });
    expect(choosePolicy([critical, south], subject, 'major')).toBeNull();
    expect(choosePolicy([critical, south], subject, 'critical')?.id).toBe('crit');
    expect(choosePolicy([policy({ tiers: [] })], subject, 'major')).toBeNull();
    // A device without a region is in no region's policy.
    const noRegion = { ...subject, region: null };
    expect(choosePolicy([policy({ scopeKind: 'region', scopeValue: 'Western' })], noRegion, 'major')).toBeNull();
  });
});

describe('decideStep', () => {
  const open = { acknowledged: false, cleared: false, voided: false };
  const running = { nextTier: 2, stoppedReason: null };

  it('tells the tier the escalation waits for, and nothing for a stale or redelivered timer', () => {
    expect(decideStep(2, running, open, policy())).toEqual({ action: 'notify', tier: tiers[1] });
    expect(decideStep(1, running, open, policy())).toEqual({ action: 'none' });
    expect(decideStep(2, { nextTier: 2, stoppedReason: 'acknowledged' }, open, policy())).toEqual({ action: 'none' });
  });

  it('stops when acknowledged, cleared or voided (stopping wins), or the policy is gone or exhausted', () => {
    expect(decideStep(2, running, { ...open, acknowledged: true }, policy())).toEqual({
      action: 'stop',
      reason: 'acknowledged',
    });
    expect(decideStep(2, running, { ...open, cleared: true, acknowledged: true }, policy())).toEqual({
      action: 'stop',
      reason: 'cleared',
    });
    expect(decideStep(2, running, { ...open, voided: true, cleared: true }, policy())).toEqual({
      action: 'stop',
      reason: 'voided',
    });
    expect(decideStep(2, running, open, null)).toEqual({ action: 'stop', reason: 'policy_removed' });
    expect(decideStep(3, { nextTier: 3, stoppedReason: null }, open, policy())).toEqual({
      action: 'stop',
      reason: 'exhausted',
    });
  });
});

describe('nextTierAfter', () => {
  it('is the next tier by number, due its delay after the previous tier was told', () => {
    expect(nextTierAfter(policy(), 1, 10_000)).toEqual({ tier: 2, dueAt: 610_000 });
    expect(nextTierAfter(policy(), 2, 10_000)).toBeNull();
    expect(nextTierAfter(policy(), 0, 10_000)).toEqual({ tier: 1, dueAt: 10_000 });
  });
});

describe('tierOutcomes', () => {
  const m = (id: string, over: Partial<TierMember> = {}): TierMember => ({
    id,
    name: id.toUpperCase(),
    enabled: true,
    quietHours: null,
    timeZone: 'UTC',
    ...over,
  });
  const noon = new Date('2026-12-03T12:00:00Z');
  const members = new Map([
    ['a', m('a')],
    ['b', m('b', { quietHours: { start: '11:00', end: '13:00' } })],
    ['c', m('c', { enabled: false })],
  ]);
  const groups = new Map([['g', ['b', 'a', 'c', 'gone']]]);
  const tier = { tier: 2, delaySec: 60, recipientIds: ['a'], groupIds: ['g'] };

  it('tells each member once; quiet hours hold back non-critical alerts, disabled members are skipped', () => {
    const got = tierOutcomes(tier, members, groups, { critical: false, now: noon, defaultTimeZone: 'UTC' });
    expect(got.map((x) => [x.recipient.id, x.outcome])).toEqual([
      ['a', 'notified'],
      ['b', 'quiet_hours'],
      ['c', 'disabled'],
    ]);
  });

  it('a critical alert goes out through quiet hours', () => {
    const got = tierOutcomes(tier, members, groups, { critical: true, now: noon, defaultTimeZone: 'UTC' });
    expect(got.find((x) => x.recipient.id === 'b')?.outcome).toBe('notified');
  });
});
