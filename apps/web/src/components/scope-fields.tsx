/** Regions/customers scope as comma-separated inputs (empty = no restriction). */
import type { ScopeLists } from '../api/client.js';

const list = (v: FormDataEntryValue | null): string[] | null => {
  const items = String(v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return items.length ? items : null;
};

export const scopeOf = (f: FormData): ScopeLists => ({
  regions: list(f.get('regions')),
  customers: list(f.get('customers')),
});

export const fmtScope = (s: ScopeLists) =>
  [s.regions && `regions: ${s.regions.join(', ')}`, s.customers && `customers: ${s.customers.join(', ')}`]
    .filter(Boolean)
    .join(' · ') || 'everything';

export function ScopeFields({ value }: { value?: ScopeLists }) {
  return (
    <>
      <label>
        Regions (comma-separated, empty = all)
        <input name="regions" defaultValue={value?.regions?.join(', ') ?? ''} maxLength={2000} />
      </label>
      <label>
        Customers (comma-separated, empty = all)
        <input name="customers" defaultValue={value?.customers?.join(', ') ?? ''} maxLength={2000} />
      </label>
    </>
  );
}

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export function RoleSelect({ value = 'viewer' }: { value?: string }) {
  return (
    <label>
      Role
      <select name="role" defaultValue={value}>
        {ROLES.map((r) => (
          <option key={r}>{r}</option>
        ))}
      </select>
    </label>
  );
}
