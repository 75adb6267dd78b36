/**
 * Redis pub/sub channel names (every one under the deployment's REDIS_PREFIX). The device
 * command channels (deviceCommandChannel, rpcResponseChannel, sessionClaimsChannel) live
 * beside their message formats in @spms/queue's commands.ts.
 */

/** Every committed domain event as JSON (worker → API live views, demo, benchmarks). */
export function domainEventsChannel(prefix: string): string {
  return `${prefix}:events`;
}

/**
 * API → API: a session ended, a key was revoked, a user disabled or re-scoped; every API
 * process re-checks its open live streams at once (they also re-check on a timer).
 */
export function accessChannel(prefix: string): string {
  return `${prefix}:access`;
}

/**
 * The registry (API, CLI) announces that a device's credentials were rotated or revoked,
 * or the device deleted; the message is the device id. Gateways drop cached credentials
 * and disconnect the device's live session.
 */
export function credentialsChangedChannel(prefix: string): string {
  return `${prefix}:credentials:changed`;
}
