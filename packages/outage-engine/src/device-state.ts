/** Connectivity facts from the gateway (same names as @spms/queue's ConnectivityEvent). */
export type ConnectivityKind =
  | 'connect'
  | 'disconnect'
  | 'connection_lost'
  | 'keepalive_timeout'
  | 'session_replaced'
  | 'activity';

export interface DeviceFacts {
  /** Newest thing the device itself did (telemetry, connect, PINGREQ, clean DISCONNECT…). */
  lastActivity: number | null;
  lastConnect: number | null;
  lastDisconnect: number | null;
  /** Kind of the newest disconnect: a clean DISCONNECT or a lost TCP connection. */
  lastDisconnectKind: 'disconnect' | 'connection_lost' | null;
}

export const EMPTY_DEVICE_FACTS: DeviceFacts = {
  lastActivity: null,
  lastConnect: null,
  lastDisconnect: null,
  lastDisconnectKind: null,
};

/** Suggested inactivity timeouts: MQTT devices speak every 30 s, HTTP ones every 15 min. */
export const DEFAULT_INACTIVITY_TIMEOUT_MS = { mqtt: 120_000, http: 35 * 60_000 } as const;

export type DeviceStatus = 'never_seen' | 'active' | 'connection_lost' | 'disconnected' | 'inactive';

export interface DeviceActivity {
  status: DeviceStatus;
  /** ThingsBoard's flag: now < lastActivity + timeout. */
  active: boolean;
  lastActivity: number | null;
  lastConnect: number | null;
  lastDisconnect: number | null;
  /** lastActivity + timeout: when it is (or was) declared inactive. Schedule a check then. */
  inactiveAt: number | null;
}

const max = (a: number | null, b: number): number => (a === null || b > a ? b : a);

/**
 * Folds one fact into the facts. Order-insensitive (newest wins), so replays and
 * out-of-order delivery give the same facts. A lost connection or keep-alive timeout is the
 * broker noticing the device's silence, not something the device did, so unlike
 * ThingsBoard it does not count as activity: the device goes inactive a timeout after it
 * last spoke, not a timeout after the broker noticed.
 */
export function applyDeviceActivity(facts: DeviceFacts, ts: number, kind: ConnectivityKind | 'telemetry'): DeviceFacts {
  const lost = kind === 'connection_lost' || kind === 'keepalive_timeout';
  const next = { ...facts };
  if (!lost) next.lastActivity = max(facts.lastActivity, ts);
  if (kind === 'connect') next.lastConnect = max(facts.lastConnect, ts);
  if (lost || kind === 'disconnect') {
    const disconnectKind = lost ? 'connection_lost' : 'disconnect';
    if (facts.lastDisconnect === null || ts > facts.lastDisconnect) {
      next.lastDisconnect = ts;
      next.lastDisconnectKind = disconnectKind;
    } else if (ts === facts.lastDisconnect && lost) {
      // Same instant reported both ways: the loss is the more cautious reading.
      next.lastDisconnectKind = 'connection_lost';
    }
  }
  return next;
}

/**
 * Device state at `now`: inactive from exactly lastActivity + timeout. Before that, a
 * disconnect newer than the last connect shows at once ('connection_lost' for a dropped
 * TCP connection, 'disconnected' for a clean DISCONNECT). HTTP devices never connect, so
 * for them only the timeout matters.
 */
export function deviceActivityState(facts: DeviceFacts, opts: { timeoutMs: number; now: number }): DeviceActivity {
  const base = {
    lastActivity: facts.lastActivity,
    lastConnect: facts.lastConnect,
    lastDisconnect: facts.lastDisconnect,
  };
  if (facts.lastActivity === null) return { ...base, status: 'never_seen', active: false, inactiveAt: null };
  const inactiveAt = facts.lastActivity + opts.timeoutMs;
  const active = opts.now < inactiveAt;
  let status: DeviceStatus = 'active';
  if (!active) status = 'inactive';
  else if (facts.lastDisconnect !== null && (facts.lastConnect === null || facts.lastDisconnect > facts.lastConnect)) {
    status = facts.lastDisconnectKind === 'disconnect' ? 'disconnected' : 'connection_lost';
  }
  return { ...base, status, active, inactiveAt };
}
