/** --token / --client-id / --username / --password / --type / --generate → a credentials body. */
import { usageError } from '../errors.js';
import { type Options, str, type Values } from '../flags.js';

export const credentialOptions: Options = {
  type: { type: 'string' },
  token: { type: 'string' },
  'client-id': { type: 'string' },
  username: { type: 'string' },
  password: { type: 'string' },
  'no-password': { type: 'boolean' },
  generate: { type: 'boolean' },
};

const TYPES: Record<string, 'ACCESS_TOKEN' | 'MQTT_BASIC'> = {
  access_token: 'ACCESS_TOKEN',
  token: 'ACCESS_TOKEN',
  mqtt_basic: 'MQTT_BASIC',
  basic: 'MQTT_BASIC',
};

/** undefined when no credential flag was given. */
export function credentialsFromFlags(values: Values): Record<string, unknown> | undefined {
  const token = str(values, 'token');
  const basic = {
    clientId: str(values, 'client-id'),
    username: str(values, 'username'),
    password: str(values, 'password'),
  };
  const hasBasic = Object.values(basic).some((v) => v !== undefined) || values['no-password'] === true;
  const rawType = str(values, 'type');
  const type = rawType ? TYPES[rawType.toLowerCase().replace(/-/g, '_')] : undefined;
  if (rawType && !type) throw usageError(`--type must be ACCESS_TOKEN or MQTT_BASIC, got "${rawType}"`);
  const resolved = type ?? (token !== undefined ? 'ACCESS_TOKEN' : hasBasic ? 'MQTT_BASIC' : undefined);
  if (!resolved) return values.generate ? { type: 'ACCESS_TOKEN', generate: true } : undefined;
  if (resolved === 'ACCESS_TOKEN' && hasBasic)
    throw usageError('--client-id/--username/--password are for MQTT_BASIC, not ACCESS_TOKEN');
  if (resolved === 'MQTT_BASIC' && token !== undefined) throw usageError('--token is for ACCESS_TOKEN, not MQTT_BASIC');
  const body: Record<string, unknown> = { type: resolved };
  if (token !== undefined) body.token = token;
  for (const [k, v] of Object.entries(basic)) if (v !== undefined) body[k] = v;
  if (values['no-password']) body.password = null;
  if (values.generate) body.generate = true;
  return body;
}
