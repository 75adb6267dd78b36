/** Output: JSON with --json, a plain text table otherwise. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export type Column<T> = [header: string, value: (row: T) => unknown];

const show = (v: unknown): string => (v === null || v === undefined ? '-' : String(v));

export function formatTable<T>(rows: T[], columns: Column<T>[]): string {
  const cells = rows.map((r) => columns.map(([, f]) => show(f(r))));
  const widths = columns.map(([h], i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(columns.map(([h]) => h)), ...cells.map(line)].join('\n');
}

export function formatFields(pairs: [string, unknown][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${show(v)}`).join('\n');
}

export function printJson(io: Io, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}
