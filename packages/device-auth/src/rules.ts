/**
 * ThingsBoard's CONNECT rules (docs/thingsboard-compatibility.md), as pure functions over a credentials row.
 * The look-up order itself comes from @spms/credentials (`basicLookupKeys`).
 */

/** One row of device_credentials joined with its device and profile. */
export interface CredentialsRow {
  credentialsId: string;
  type: 'ACCESS_TOKEN' | 'MQTT_BASIC';
  clientId: string | null;
  username: string | null;
  passwordHash: string | null;
  deviceId: string;
  deviceName: string;
  profileId: string;
  transport: 'MQTT' | 'HTTP';
}

export type ConnectInput = { clientId: string; username: string | undefined; password: string | undefined };

/**
 * `identifier_rejected` when the device gave nothing to look up: no username, no
 * password and an empty client id (the broker answers CONNACK 0x02).
 */
export function isIdentifierRejected(input: ConnectInput): boolean {
  return !input.username && input.password === undefined && !input.clientId;
}

/**
 * What a found row means for this CONNECT: accept, refuse, or accept only if the
 * password verifies against `passwordHash`.
 * - ACCESS_TOKEN (matched through the username): accepted. ThingsBoard ignores the
 *   password of an access-token connect, and so do we — devices that send one keep working.
 * - MQTT_BASIC: a stored client id / username must equal the presented one exactly (the
 *   key scheme already guarantees it; checked again so a key collision can never let a
 *   device in); a stored password must be presented and verify. No stored password: any.
 */
export function checkMqttRow(row: CredentialsRow, input: ConnectInput): 'accept' | 'refuse' | 'verify' {
  if (row.type === 'ACCESS_TOKEN') return input.username ? 'accept' : 'refuse';
  if (row.clientId !== null && row.clientId !== input.clientId) return 'refuse';
  if (row.username !== null && row.username !== (input.username ?? '')) return 'refuse';
  if (row.passwordHash === null) return 'accept';
  if (input.password === undefined || input.password === '') return 'refuse';
  return 'verify';
}
