/**
 * The device CSV, a file two programs share: the registry's import reads it (apps/api,
 * routes/devices/csv-rows.ts) and the simulator's fleet export writes it. One column list
 * for both, so they cannot drift apart: a column renamed here is a compile error in each.
 * Header names only; parsing and checking stay with the import.
 */
export const DEVICE_CSV_COLUMNS = [
  'name',
  'label',
  'region',
  'customer',
  'latitude',
  'longitude',
  'profile',
  'hardware_status',
  'notes',
  'credentials_type',
  'token',
  'client_id',
  'username',
  'password',
  'line_1',
  'line_2',
  'line_3',
  'line_4',
  'line_5',
  'line_6',
  'line_7',
  'line_8',
  'inactivity_timeout_sec',
  'momentary_threshold_sec',
  'voltage_min',
  'voltage_max',
  'alert_debounce_sec',
] as const;

export type DeviceCsvColumn = (typeof DEVICE_CSV_COLUMNS)[number];
