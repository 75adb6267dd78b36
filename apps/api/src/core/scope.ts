/**
 * The one place that turns a principal's scope into SQL. Every read query (lists, counts,
 * reports, exports) and the live stream filter devices through here, so a region-scoped
 * user can never see another region by forgetting a WHERE clause.
 */
import type { Scope } from './principal.js';

/** Positional parameters collected while a query is assembled ($1, $2, … in order). */
export class SqlParams {
  readonly values: unknown[] = [];
  /** Adds a value and returns its placeholder. */
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/**
 * SQL condition restricting `alias` (a devices row) to the scope; 'TRUE' for the whole
 * fleet. A restricted dimension matches only devices whose value is in the list (a device
 * without a region is outside every region scope).
 */
export function scopeCondition(scope: Scope | null | undefined, alias: string, params: SqlParams): string {
  if (!scope) return 'TRUE';
  const parts: string[] = [];
  if (scope.regions) parts.push(`${alias}.region = ANY(${params.add(scope.regions)}::text[])`);
  if (scope.customers) parts.push(`${alias}.customer = ANY(${params.add(scope.customers)}::text[])`);
  return parts.length ? `(${parts.join(' AND ')})` : 'TRUE';
}

/** Same rule in memory (the live stream filters events one by one). */
export function inScope(
  scope: Scope | null | undefined,
  device: { region: string | null; customer: string | null },
): boolean {
  if (!scope) return true;
  if (scope.regions && (device.region === null || !scope.regions.includes(device.region))) return false;
  if (scope.customers && (device.customer === null || !scope.customers.includes(device.customer))) return false;
  return true;
}
