/**
 * Checks a Prometheus text exposition against the naming conventions SPMS follows
 * (https://prometheus.io/docs/practices/naming/): one TYPE per family, counters end in
 * `_total` and nothing else does, histograms and summaries carry a base unit (`_seconds`,
 * `_bytes`), no scaled units (milliseconds, kilobytes, minutes), every family has HELP, and
 * every sample belongs to a declared family. Returns the problems found (empty = clean).
 */
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SCALED_UNITS = /_(milliseconds|ms|microseconds|us|minutes|hours|days|kilobytes|kb|megabytes|mb|percent)(_|$)/;
const HISTOGRAM_UNITS = /_(seconds|bytes)$/;

export function lintExposition(text: string): string[] {
  const problems: string[] = [];
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
    if (meta) {
      const [, kind, name = '', rest = ''] = meta;
      if (kind === 'HELP') {
        if (helps.has(name)) problems.push(`${name}: HELP given twice (duplicate family)`);
        helps.add(name);
        if (rest.trim() === '') problems.push(`${name}: empty HELP`);
      } else {
        if (types.has(name)) problems.push(`${name}: TYPE given twice (duplicate family)`);
        types.set(name, rest);
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    samples.push(/^([^{\s]+)/.exec(line)?.[1] ?? line);
  }
  for (const [name, type] of types) {
    if (!NAME.test(name)) problems.push(`${name}: not a valid metric name`);
    if (!helps.has(name)) problems.push(`${name}: no HELP`);
    if (type === 'counter' && !name.endsWith('_total')) problems.push(`${name}: a counter must end in _total`);
    if (type !== 'counter' && name.endsWith('_total')) problems.push(`${name}: a ${type} must not end in _total`);
    if ((type === 'histogram' || type === 'summary') && !HISTOGRAM_UNITS.test(name))
      problems.push(`${name}: a ${type} must carry its base unit (_seconds or _bytes)`);
    if (SCALED_UNITS.test(name)) problems.push(`${name}: use base units (seconds, bytes, ratios)`);
    if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type))
      problems.push(`${name}: unknown type "${type}"`);
  }
  for (const s of samples) {
    const family = types.has(s)
      ? s
      : [...types.keys()].find((f) => {
          const t = types.get(f);
          const suffixes =
            t === 'histogram' ? ['_bucket', '_sum', '_count'] : t === 'summary' ? ['_sum', '_count'] : [];
          return suffixes.some((x) => s === f + x);
        });
    if (!family) problems.push(`${s}: sample of no declared family`);
  }
  return [...new Set(problems)];
}
