/** TypeBox schemas for /api/profiles. */
import { type TSchema, Type } from 'typebox';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Transport = Type.Enum(['MQTT', 'HTTP']);

const settingProps = {
  // A type array, not anyOf: the API's Ajv coerces types and would turn null into "".
  description: Type.Optional(Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength: 500 })),
  transport: Type.Optional(Transport),
  inactivityTimeoutSec: Type.Optional(
    Type.Integer({ minimum: 1, description: 'inactive after this long without activity' }),
  ),
  momentaryThresholdSec: Type.Optional(
    Type.Integer({ minimum: 0, description: 'shorter outages are momentary (IEEE 1366: 300)' }),
  ),
  voltageNominal: Type.Optional(Type.Number({ minimum: 0 })),
  voltageMin: Type.Optional(Type.Number({ minimum: 0 })),
  voltageMax: Type.Optional(Type.Number({ minimum: 0 })),
  voltageHysteresis: Type.Optional(Type.Number({ minimum: 0 })),
  alertDebounceSec: Type.Optional(Type.Integer({ minimum: 0, description: 'alert only outages open this long' })),
  isDefault: Type.Optional(Type.Boolean({ description: 'devices created without a profile get this one' })),
};
const ProfileName = Type.String({ minLength: 1, maxLength: 64 });

export const CreateProfileBody = Type.Object({ name: ProfileName, ...settingProps }, { additionalProperties: false });
const Strategy = Type.Enum(['allow_create', 'pre_provisioned', 'disabled'], {
  description:
    "ThingsBoard's provisioning strategies: allow_create (new names), pre_provisioned (registered names still awaiting provisioning: no credentials, never connected; once), disabled",
});
const NullableText = (description: string) =>
  Type.Optional(Type.Unsafe<string | null>({ type: ['string', 'null'], minLength: 1, maxLength: 128, description }));
const ProvisioningBody = Type.Object(
  {
    strategy: Type.Optional(Strategy),
    key: Type.Optional(
      Type.String({ minLength: 8, maxLength: 256, description: 'provisionDeviceKey devices send (not secret)' }),
    ),
    secret: Type.Optional(
      Type.String({
        minLength: 16,
        maxLength: 256,
        description: 'provisionDeviceSecret devices send; stored hashed, never shown again',
      }),
    ),
    deviceCredentials: Type.Optional(
      Type.Boolean({ description: 'devices may bring their own credentials (ACCESS_TOKEN / MQTT_BASIC)' }),
    ),
    region: NullableText('region of devices this profile provisions'),
    customer: NullableText('customer of devices this profile provisions'),
  },
  { additionalProperties: false },
);
export const Provisioning = Type.Object({
  strategy: Strategy,
  key: Nullable(Type.String()),
  hasSecret: Type.Boolean(),
  deviceCredentials: Type.Boolean(),
  region: Nullable(Type.String()),
  customer: Nullable(Type.String()),
});

export const UpdateProfileBody = Type.Object(
  {
    name: Type.Optional(ProfileName),
    ...settingProps,
    provisioning: Type.Optional(ProvisioningBody),
    firmwareId: Type.Optional(
      Type.Unsafe<string | null>({
        type: ['string', 'null'],
        format: 'uuid',
        description:
          'firmware its devices run unless they have their own (pushed as fw_* shared attributes); null: none',
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);
export const ProfileParams = Type.Object({ idOrName: Type.String({ description: 'profile id or name' }) });

export const Profile = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Nullable(Type.String()),
  transport: Transport,
  inactivityTimeoutSec: Type.Integer(),
  momentaryThresholdSec: Type.Integer(),
  voltageNominal: Type.Number(),
  voltageMin: Type.Number(),
  voltageMax: Type.Number(),
  voltageHysteresis: Type.Number(),
  alertDebounceSec: Type.Integer(),
  isDefault: Type.Boolean(),
  deviceCount: Type.Integer(),
  firmwareId: Nullable(Type.String({ description: 'firmware assigned to the profile (docs/firmware.md)' })),
  provisioning: Type.Optional(Provisioning),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});
export const ProfileList = Type.Array(Profile);
