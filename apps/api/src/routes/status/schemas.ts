/** TypeBox schemas of the read side's status routes. */
import { type TSchema, Type } from 'typebox';

export const Nullable = <T extends TSchema>(t: T, opts: { description?: string } = {}) =>
  Type.Union([t, Type.Null()], opts);
export const Iso = Type.String({ format: 'date-time', description: 'ISO 8601 instant' });

const Line = Type.Object({
  line: Type.Integer({ minimum: 1, maximum: 8 }),
  label: Type.String(),
  enabled: Type.Optional(Type.Literal(false, { description: 'present only for lines not monitored' })),
  state: Type.Union([Type.Literal('powered'), Type.Literal('unpowered'), Type.Literal('unknown')], {
    description: 'unknown while the device is inactive (offline): the last report is only lastKnown',
  }),
  since: Nullable(Iso),
  lastKnown: Type.Optional(
    Nullable(Type.Union([Type.Literal('powered'), Type.Literal('unpowered')]), {
      description: 'present only while the state is unknown: the last reported state',
    }),
  ),
  openOutage: Type.Optional(
    Type.Object({ id: Type.String(), startedAt: Iso }, { description: 'present only while open' }),
  ),
});

const deviceProps = {
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  label: Nullable(Type.String()),
  region: Nullable(Type.String()),
  customer: Nullable(Type.String()),
  active: Type.Boolean(),
  connection: Type.Union([Type.Literal('connected'), Type.Literal('disconnected'), Type.Literal('lost')]),
  connectionLost: Type.Boolean(),
  lastActivityAt: Nullable(Iso),
  inactiveSince: Nullable(Iso),
  volts: Nullable(Type.Number()),
  voltsAt: Nullable(Iso),
  voltsLevel: Nullable(Type.String()),
  openOutages: Type.Integer(),
  lines: Type.Array(Line),
};

export const DeviceStatus = Type.Object(deviceProps);

export const FleetStatus = Type.Object({
  generatedAt: Iso,
  counters: Type.Object({
    devices: Type.Integer(),
    active: Type.Integer(),
    inactive: Type.Integer(),
    connectionLost: Type.Integer(),
    linesWithoutPower: Type.Integer({ description: 'lines of active devices reporting no power' }),
    linesUnknown: Type.Integer({ description: 'lines whose state is unknown (device inactive or never reported)' }),
    openOutages: Type.Integer(),
  }),
  devices: Type.Array(DeviceStatus),
});

export const StatusQuery = Type.Object(
  {
    region: Type.Optional(Type.String({ minLength: 1 })),
    customer: Type.Optional(Type.String({ minLength: 1 })),
    state: Type.Optional(Type.Enum(['active', 'inactive', 'connection_lost', 'outage'])),
  },
  { additionalProperties: false },
);

export const DeviceDetail = Type.Object({
  ...deviceProps,
  latitude: Nullable(Type.Number()),
  longitude: Nullable(Type.Number()),
  notes: Nullable(Type.String()),
  hardwareStatus: Type.String(),
  profile: Type.Object({
    id: Type.String(),
    name: Type.String(),
    effective: Type.Object({
      inactivityTimeoutSec: Type.Integer(),
      momentaryThresholdSec: Type.Integer(),
      voltageNominal: Type.Number(),
      voltageMin: Type.Number(),
      voltageMax: Type.Number(),
      voltageHysteresis: Type.Number(),
      alertDebounceSec: Type.Integer(),
    }),
  }),
});

export const IdOrNameParams = Type.Object({ idOrName: Type.String({ minLength: 1, maxLength: 200 }) });
