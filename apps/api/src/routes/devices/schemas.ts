/** TypeBox schemas for /api/devices: request validation and response serialization. */
import { type TSchema, Type } from 'typebox';
import { DEVICE_NAME_PATTERN } from './validation.js';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/**
 * Nullable request fields as a JSON-Schema type array, not anyOf: the API's Ajv coerces
 * types, and with anyOf it would turn `null` into 0 (so "clear the override" would set 0).
 * With a type array Ajv coerces only when no listed type matches.
 */
function NullableIn<T>(kind: 'string' | 'number' | 'integer', opts: Record<string, unknown> = {}) {
  return Type.Unsafe<T | null>({ ...opts, type: [kind, 'null'] });
}
const NullableString = (opts: Record<string, unknown> = {}) => NullableIn<string>('string', opts);
const NullableNumber = (opts: Record<string, unknown> = {}) => NullableIn<number>('number', opts);
const NullableInteger = (opts: Record<string, unknown> = {}) => NullableIn<number>('integer', opts);

export const DeviceName = Type.String({
  pattern: DEVICE_NAME_PATTERN,
  description: '1-64 letters, digits, "_", "-" or "." (the MSAN code, e.g. 0003_MSAN)',
});
const Text = (max: number) => NullableString({ maxLength: max });
const HardwareStatus = Type.Enum(['OK', 'DEGRADED', 'FAULTY', 'RETIRED']);
const CredentialsType = Type.Enum(['ACCESS_TOKEN', 'MQTT_BASIC']);

const overrideProps = {
  inactivityTimeoutSec: Type.Optional(NullableInteger({ minimum: 1 })),
  momentaryThresholdSec: Type.Optional(NullableInteger({ minimum: 0 })),
  voltageMin: Type.Optional(NullableNumber({ minimum: 0 })),
  voltageMax: Type.Optional(NullableNumber({ minimum: 0 })),
  alertDebounceSec: Type.Optional(NullableInteger({ minimum: 0 })),
};

const fieldProps = {
  label: Type.Optional(Text(200)),
  region: Type.Optional(Text(200)),
  customer: Type.Optional(Text(200)),
  latitude: Type.Optional(NullableNumber({ minimum: -90, maximum: 90 })),
  longitude: Type.Optional(NullableNumber({ minimum: -180, maximum: 180 })),
  notes: Type.Optional(Text(2000)),
  hardwareStatus: Type.Optional(HardwareStatus),
  profile: Type.Optional(Type.String({ description: 'profile name or id; the default profile when omitted' })),
  lineLabels: Type.Optional(
    Type.Union([
      Type.Record(Type.String(), Type.String(), { description: 'e.g. {"3": "Pump"}' }),
      Type.Array(Type.String(), { maxItems: 8, description: 'labels of lines 1..8' }),
    ]),
  ),
  ...overrideProps,
};

export const CredentialsBody = Type.Object(
  {
    type: CredentialsType,
    token: Type.Optional(Type.String({ description: 'ACCESS_TOKEN: omit to generate one' })),
    clientId: Type.Optional(NullableString()),
    username: Type.Optional(NullableString()),
    password: Type.Optional(NullableString({ description: 'omit to generate; null for none' })),
    generate: Type.Optional(Type.Boolean({ description: 'generate the secret even if one is given' })),
  },
  { additionalProperties: false },
);

export const CreateDeviceBody = Type.Object(
  { name: DeviceName, ...fieldProps, credentials: Type.Optional(CredentialsBody) },
  { additionalProperties: false },
);

export const UpdateDeviceBody = Type.Object(
  {
    name: Type.Optional(DeviceName),
    ...fieldProps,
    firmwareId: Type.Optional(
      NullableString({
        format: 'uuid',
        description: "firmware this device should run (pushed as the fw_* shared attributes); null: its profile's",
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const DeviceParams = Type.Object({ idOrName: Type.String({ description: 'device id or name' }) });

export const ListDevicesQuery = Type.Object(
  {
    region: Type.Optional(Type.String()),
    customer: Type.Optional(Type.String()),
    profile: Type.Optional(Type.String()),
    search: Type.Optional(Type.String({ description: 'substring of name or label' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  },
  { additionalProperties: false },
);

const Settings = (t: TSchema) =>
  Type.Object({
    inactivityTimeoutSec: t,
    momentaryThresholdSec: t,
    voltageMin: t,
    voltageMax: t,
    alertDebounceSec: t,
  });

export const CredentialsInfo = Nullable(
  Type.Object({
    type: CredentialsType,
    clientId: Nullable(Type.String()),
    username: Nullable(Type.String()),
    hasPassword: Type.Boolean(),
    identifiersHidden: Type.Optional(
      Type.Boolean({
        description:
          'client id / username exist but are not shown: to viewers, and to anyone for MQTT Basic without a password (the pair is its secret)',
      }),
    ),
  }),
);

export const IssuedCredentials = Type.Object(
  {
    type: CredentialsType,
    token: Type.Optional(Type.String()),
    clientId: Type.Optional(Nullable(Type.String())),
    username: Type.Optional(Nullable(Type.String())),
    password: Type.Optional(Nullable(Type.String())),
  },
  { description: 'the credentials to put in the firmware; shown once, only when SPMS generated a part of them' },
);

const deviceProps = {
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  label: Nullable(Type.String()),
  region: Nullable(Type.String()),
  customer: Nullable(Type.String()),
  latitude: Nullable(Type.Number()),
  longitude: Nullable(Type.Number()),
  notes: Nullable(Type.String()),
  hardwareStatus: HardwareStatus,
  profile: Type.Object({ id: Type.String(), name: Type.String(), transport: Type.String() }),
  overrides: Settings(Nullable(Type.Number())),
  effective: Settings(Type.Number()),
  lines: Type.Array(Type.Object({ number: Type.Integer(), label: Type.String(), enabled: Type.Boolean() })),
  credentials: CredentialsInfo,
  firmware: Type.Object(
    {
      current: Nullable(
        Type.Object(
          { title: Nullable(Type.String()), version: Nullable(Type.String()) },
          {
            description: 'what the device reported running (current_fw_title, current_fw_version)',
          },
        ),
      ),
      target: Nullable(
        Type.Object(
          { id: Type.String(), title: Type.String(), version: Type.String() },
          {
            description: 'what it should run: its own firmware, else its profile’s',
          },
        ),
      ),
      targetFrom: Nullable(Type.Enum(['device', 'profile'])),
      state: Nullable(Type.String({ description: "the device's last fw_state (QUEUED … UPDATED, FAILED)" })),
      error: Nullable(Type.String({ description: 'fw_error with FAILED' })),
      stateAt: Nullable(Type.String({ format: 'date-time' })),
    },
    { description: 'firmware over the air (docs/firmware.md)' },
  ),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
};

export const Device = Type.Object(deviceProps);
export const DeviceWithIssued = Type.Object({ ...deviceProps, issuedCredentials: Type.Optional(IssuedCredentials) });
export const DeviceList = Type.Object({ items: Type.Array(Device), total: Type.Integer() });

export const ImportQuery = Type.Object(
  { dryRun: Type.Optional(Type.Boolean({ default: false })) },
  { additionalProperties: false },
);
export const ImportResult = Type.Object({
  dryRun: Type.Boolean(),
  count: Type.Integer(),
  devices: Type.Array(
    Type.Object({
      row: Type.Integer(),
      id: Nullable(Type.String()),
      name: Type.String(),
      profile: Type.String(),
      credentials: CredentialsInfo,
      issuedCredentials: Type.Optional(IssuedCredentials),
      warnings: Type.Optional(
        Type.Array(Type.String(), { description: 'e.g. a token or password shorter than new credentials need' }),
      ),
    }),
  ),
});
