/**
 * The compact status answer's shape, in one place: the row's fields (name, TypeBox schema,
 * meaning) in tuple order. COMPACT_COLUMNS, the CompactRow type and the route's 200 response
 * schema (GET /api/status/compact, in the OpenAPI document the dashboard's types are generated
 * from: apps/web/src/api/generated/) are all derived from it, so a field renamed, moved or
 * retyped here is a compile error in the dashboard (apps/web/src/api/compact.ts).
 */
import { type Static, type TSchema, Type } from 'typebox';
import { Nullable } from './schemas.js';

export const COMPACT_FORMAT = 'spms.status.compact/2';

const Mask = (description: string) => Type.Integer({ minimum: 0, maximum: 255, description });
const Ago = (description: string) => Nullable(Type.Integer(), { description });
const StringIndex = Nullable(Type.Integer({ minimum: 0 }), { description: 'index into strings, or null' });

/** A row's fields in tuple order: the first COMPACT_REQUIRED always sent, the rest left out
 *  from the end while they are at their default (null, 0). */
const FIELDS = {
  id: Type.String({ description: "the device's UUID as 22 base64url characters (its 16 bytes)" }),
  name: Type.String(),
  region: StringIndex,
  customer: StringIndex,
  state: Type.Integer({
    minimum: 0,
    description:
      'bit 0: active; bits 1-2: connection (0 disconnected, 1 connected, 2 lost); bits 3-5: voltage level (0 none, 1 normal, 2 under, 3 over, 4 absent)',
  }),
  lineSet: Type.Integer({
    minimum: 0,
    description: 'index into lineSets: the line labels (as string indexes) by line number, null where no line',
  }),
  unreported: Mask('bit n-1 set: line n (in the set) has never reported'),
  unpowered: Mask('bit n-1 set: the last report of line n was "unpowered"'),
  lastActivityAt: Ago('seconds before base'),
  volts: Nullable(Type.Number(), { description: 'volts, to 0.1 V' }),
  voltsAt: Ago('seconds before lastActivityAt (before base when there is no activity)'),
  lineSince: Nullable(Type.Union([Type.Integer(), Type.Array(Nullable(Type.Integer()))]), {
    description:
      'since when known lines hold their state, seconds before base: null (no known line), one number (all the same), or an array by line number (null for lines not known)',
  }),
  lat: Nullable(Type.Number()),
  lon: Nullable(Type.Number()),
  label: Nullable(Type.String()),
  disabled: Mask('bit n-1 set: line n is not monitored'),
  outages: Mask('bit n-1 set: an outage is open on line n (openOutages = number of bits)'),
  inactiveSince: Ago('seconds before base; set only while inactive'),
};
type Field = keyof typeof FIELDS;

const REQUIRED = ['id', 'name', 'region', 'customer', 'state', 'lineSet'] as const satisfies readonly Field[];
const OPTIONAL = [
  'unreported',
  'unpowered',
  'lastActivityAt',
  'volts',
  'voltsAt',
  'lineSince',
  'lat',
  'lon',
  'label',
  'disabled',
  'outages',
  'inactiveSince',
] as const satisfies readonly Field[];

/** Tuple positions of a row (also sent as `columns`). */
export const COMPACT_COLUMNS = [...REQUIRED, ...OPTIONAL] as const;
export const COMPACT_REQUIRED = REQUIRED.length;

type Values<C extends readonly Field[]> = { -readonly [I in keyof C]: Static<(typeof FIELDS)[C[I]]> };
/** A row (see COMPACT_COLUMNS); trailing fields at their default (null, 0) are left out. */
export type CompactRow = [...Values<typeof REQUIRED>, ...Partial<Values<typeof OPTIONAL>>];

/** A row as JSON Schema 2020-12 (OpenAPI 3.1): a tuple, each position titled with its column. */
const CompactRowSchema = Type.Unsafe<CompactRow>({
  type: 'array',
  description: 'one device: the values of `columns` by position; trailing defaults (null, 0) left out',
  prefixItems: COMPACT_COLUMNS.map((c) => ({ ...(FIELDS[c] as TSchema), title: c })),
  items: false,
  minItems: COMPACT_REQUIRED,
  maxItems: COMPACT_COLUMNS.length,
});

const Columns = Type.Unsafe<typeof COMPACT_COLUMNS>({
  type: 'array',
  description: 'the names of the row positions',
  prefixItems: COMPACT_COLUMNS.map((c) => ({ type: 'string', const: c })),
  items: false,
  minItems: COMPACT_COLUMNS.length,
  maxItems: COMPACT_COLUMNS.length,
});

const Count = Type.Integer({ minimum: 0 });

/** 200 of GET /api/status/compact: a full answer (rows), a delta (?since=: changed) or a reload. */
export const CompactAnswer = Type.Object({
  format: Type.Literal(COMPACT_FORMAT),
  generatedAt: Type.Integer({ description: 'epoch ms the rows were read' }),
  cursor: Type.Optional(Type.String({ description: 'send it back as ?since= for the changes after this answer' })),
  base: Type.Optional(Type.Integer({ description: 'epoch ms (a whole second) the row times count back from' })),
  columns: Type.Optional(Columns),
  counters: Type.Optional(
    Type.Object({
      devices: Count,
      active: Count,
      inactive: Count,
      connectionLost: Count,
      linesWithoutPower: Count,
      linesUnknown: Count,
      openOutages: Count,
    }),
  ),
  strings: Type.Optional(Type.Array(Type.String(), { description: 'regions, customers and line labels' })),
  lineSets: Type.Optional(
    Type.Array(Type.Array(Nullable(Type.Integer())), {
      description: 'line label sets: string index by line number, null where no line',
    }),
  ),
  rows: Type.Optional(Type.Array(CompactRowSchema, { description: 'full answer: every device in scope' })),
  changed: Type.Optional(
    Type.Array(CompactRowSchema, { description: '?since= answer: the devices changed since the cursor' }),
  ),
  reload: Type.Optional(Type.Literal(true, { description: 'the cursor can no longer be followed: read in full' })),
  reason: Type.Optional(Type.String()),
});
export type CompactAnswer = Static<typeof CompactAnswer>;
export type CompactCounters = NonNullable<CompactAnswer['counters']>;
