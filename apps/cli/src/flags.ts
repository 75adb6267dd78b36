/** Flag helpers on top of node:util parseArgs. */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { usageError } from './errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | string[] | undefined>;

export function parseFlags(args: string[], options: Options): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: values as Values, positionals };
  } catch (err) {
    throw usageError((err as Error).message);
  }
}

export function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1 || !positionals[0]) throw usageError(`expected exactly one ${what}`);
  return positionals[0];
}

export function str(values: Values, key: string): string | undefined {
  const v = values[key];
  return typeof v === 'string' ? v : undefined;
}

export function num(values: Values, key: string, integer = false): number | undefined {
  const v = str(values, key);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)))
    throw usageError(`--${key} must be ${integer ? 'an integer' : 'a number'}, got "${v}"`);
  return n;
}

/** Copies the given string/number flags into `body` under their API names. */
export function copyFlags(
  values: Values,
  body: Record<string, unknown>,
  map: [flag: string, field: string, kind: 'string' | 'number' | 'integer'][],
): void {
  for (const [flag, field, kind] of map) {
    const v = kind === 'string' ? str(values, flag) : num(values, flag, kind === 'integer');
    if (v !== undefined) body[field] = v;
  }
}
