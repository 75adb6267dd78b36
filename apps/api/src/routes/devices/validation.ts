/**
 * Field rules shared by the REST routes and the CSV import, returned as a list of
 * {field, message} so the import can report every problem of every row at once.
 */
export interface FieldError {
  field: string;
  message: string;
}

// Fleet names are MSAN codes such as 0003_MSAN; kept URL- and shell-safe.
export const DEVICE_NAME_PATTERN = '^[A-Za-z0-9_.-]{1,64}$';
const NAME_RE = new RegExp(DEVICE_NAME_PATTERN);

export function checkDeviceName(name: string): FieldError[] {
  if (NAME_RE.test(name)) return [];
  return [{ field: 'name', message: 'must be 1-64 characters: letters, digits, "_", "-" or "." (e.g. 0003_MSAN)' }];
}

export function checkCoordinates(latitude: number | null | undefined, longitude: number | null | undefined) {
  const errors: FieldError[] = [];
  const hasLat = latitude !== null && latitude !== undefined;
  const hasLon = longitude !== null && longitude !== undefined;
  if (hasLat && (!Number.isFinite(latitude) || latitude < -90 || latitude > 90))
    errors.push({ field: 'latitude', message: 'must be a number between -90 and 90' });
  if (hasLon && (!Number.isFinite(longitude) || longitude < -180 || longitude > 180))
    errors.push({ field: 'longitude', message: 'must be a number between -180 and 180' });
  if (hasLat !== hasLon)
    errors.push({ field: hasLat ? 'longitude' : 'latitude', message: 'give both latitude and longitude, or neither' });
  return errors;
}

/** The profile values a device may override; null means "use the profile's value". */
export const OVERRIDE_KEYS = [
  'inactivityTimeoutSec',
  'momentaryThresholdSec',
  'voltageMin',
  'voltageMax',
  'alertDebounceSec',
] as const;
export type OverrideKey = (typeof OVERRIDE_KEYS)[number];
export type Overrides = { [K in OverrideKey]?: number | null };

const INTEGER_KEYS = new Set<string>(['inactivityTimeoutSec', 'momentaryThresholdSec', 'alertDebounceSec']);

export function checkSettings(values: Overrides): FieldError[] {
  const errors: FieldError[] = [];
  for (const key of OVERRIDE_KEYS) {
    const v = values[key];
    if (v === null || v === undefined) continue;
    if (!Number.isFinite(v) || v < 0) errors.push({ field: key, message: 'must be a number ≥ 0' });
    else if (INTEGER_KEYS.has(key) && !Number.isInteger(v)) errors.push({ field: key, message: 'must be an integer' });
    else if (key === 'inactivityTimeoutSec' && v < 1) errors.push({ field: key, message: 'must be at least 1 second' });
  }
  return errors;
}

/** Voltage limits must make sense once overrides are merged with the profile. */
export function checkVoltageRange(min: number, max: number): FieldError[] {
  return min < max ? [] : [{ field: 'voltageMin', message: `voltageMin (${min}) must be below voltageMax (${max})` }];
}

export function formatFieldErrors(errors: FieldError[]): string {
  return errors.map((e) => `${e.field}: ${e.message}`).join('; ');
}
