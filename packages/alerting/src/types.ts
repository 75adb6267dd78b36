/** What an alert is about (one row of `alerts`). */
export type AlertType = 'outage' | 'device_offline' | 'voltage';

export type Severity = 'critical' | 'major' | 'minor' | 'warning';

/**
 * What a recipient subscribes to and what one pending item of a text is. A restoration is
 * its own kind so someone can take "lost" without "back" (or the other way round).
 */
export type NotifyKind = 'outage' | 'restoration' | 'device_offline' | 'device_online' | 'voltage';

export const NOTIFY_KINDS: readonly NotifyKind[] = [
  'outage',
  'restoration',
  'device_offline',
  'device_online',
  'voltage',
];

export type ScopeKind = 'all' | 'region' | 'customer' | 'device' | 'line';

export interface QuietHours {
  /** 'HH:MM' local time; the window may wrap midnight (22:00–06:00). */
  start: string;
  end: string;
}

export interface RecipientRule {
  id: string;
  enabled: boolean;
  scopeKind: ScopeKind;
  /** region / customer name, or device id for 'device' and 'line'. */
  scopeValue: string | null;
  /** Line number for 'line'. */
  scopeLine: number | null;
  kinds: NotifyKind[];
  quietHours: QuietHours | null;
  /** IANA zone for quiet hours; default Asia/Colombo. */
  timeZone: string | null;
}

/** The device/line an alert originates from. */
export interface AlertSubject {
  deviceId: string;
  line: number | null;
  region: string | null;
  customer: string | null;
}
