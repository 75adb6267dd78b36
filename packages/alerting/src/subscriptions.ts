import type { AlertSubject, NotifyKind, RecipientRule, Severity } from './types.js';

/** True when the recipient's scope covers the subject and it takes this kind of text. */
export function matchesRecipient(r: RecipientRule, subject: AlertSubject, kind: NotifyKind): boolean {
  if (!r.enabled || !r.kinds.includes(kind)) return false;
  switch (r.scopeKind) {
    case 'all':
      return true;
    case 'region':
      return subject.region !== null && subject.region === r.scopeValue;
    case 'customer':
      return subject.customer !== null && subject.customer === r.scopeValue;
    case 'device':
      return subject.deviceId === r.scopeValue;
    case 'line':
      // A device-wide alert (offline) concerns every line of the device.
      return subject.deviceId === r.scopeValue && (subject.line === null || subject.line === r.scopeLine);
  }
}

/**
 * Losing the whole site or the utility (CEB) feed is critical: it overrides quiet hours.
 * Other lines are major; an unreachable monitor is major (nothing is known), voltage minor.
 */
export function severityOf(
  type: 'outage' | 'device_offline' | 'voltage',
  flags: { wholeSite?: boolean; utilityFeed?: boolean } = {},
): Severity {
  if (type === 'outage') return flags.wholeSite || flags.utilityFeed ? 'critical' : 'major';
  if (type === 'device_offline') return 'major';
  return 'minor';
}

/**
 * Texts for one recipient are grouped per region (the storm unit operators think in), or per
 * device when the device has no region.
 */
export function groupKeyOf(subject: AlertSubject): string {
  return subject.region ? `region:${subject.region}` : `device:${subject.deviceId}`;
}
