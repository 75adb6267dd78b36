import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import JSON5 from 'json5';
import { describe, expect, it } from 'vitest';
import {
  MAX_FUTURE_SKEW_MS,
  MAX_KEY_LENGTH,
  MAX_KEYS_PER_OBJECT,
  MAX_STRING_LENGTH,
  MAX_VALUE_DEPTH,
  MIN_TS_MS,
} from './limits.js';
import { acceptAttributes, acceptTelemetry, validateIngestMessage } from './validate-message.js';

const fixtures = new URL('../../../fixtures/', import.meta.url);
const load = (name: string) => JSON.parse(readFileSync(new URL(name, fixtures), 'utf8'));
const firmware: string[] = [
  ...load('mqtt-firmware.json').messages.map((m: { payload: string }) => m.payload),
  ...load('http-firmware.json').bodies.map((b: { body: unknown }) =>
    typeof b.body === 'string' ? b.body : JSON.stringify(b.body),
  ),
  ...load('thingsboard-forms.json').forms.map((f: { payload: string }) => f.payload),
];

const NOW = Date.UTC(2026, 11, 2, 12);
const DEVICE = '3f8a2c1e-5b6d-4e7f-8a9b-0c1d2e3f4a5b';

/** The message the gateway would enqueue, as the worker reads it back (through JSON). */
function queued(kind: 'telemetry' | 'attributes', body: object, receivedAt: number): unknown {
  const msg = { id: 'm1', deviceId: DEVICE, receivedAt, transport: 'mqtt', kind, ...body };
  return JSON.parse(JSON.stringify(msg));
}

const nest = (depth: number, leaf: unknown = 1): unknown => {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
};
/** Nesting as text: JSON.stringify itself overflows its stack on a few thousand levels. */
const nestedText = (depth: number) => `{"x":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`;

describe('hostile payloads are refused with a reason that says what to fix', () => {
  it.each([
    ['ts in seconds', `{"ts":1733150000,"values":{"1":true}}`, /ts 1733150000 looks like seconds: send milliseconds/],
    ['ts in µs', `{"ts":1733150000000000,"values":{"1":true}}`, /looks like microseconds/],
    ['far-future ts', `{"ts":${NOW + 86_400_000 * 400},"values":{"1":true}}`, /400 days in the future/],
    ['ts 11 min ahead', `{"ts":${NOW + 11 * 60_000},"values":{"1":true}}`, /11 minutes in the future/],
    ['negative ts', `{"ts":-5,"values":{"1":true}}`, /"ts" must be a Unix time in milliseconds/],
    ['ts 1990', `{"ts":${Date.UTC(1990, 0, 1)},"values":{"1":true}}`, /before 2000-01-01/],
    ['ts string', `{"ts":"soon","values":{"1":true}}`, /"ts" must be a Unix time/],
    ['deep nesting', nestedText(5000), new RegExp(`nested deeper than ${MAX_VALUE_DEPTH}`)],
    [
      'too many keys',
      JSON.stringify(Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`k${i}`, i]))),
      new RegExp(`more than ${MAX_KEYS_PER_OBJECT} keys`),
    ],
    ['huge key', JSON.stringify({ ['k'.repeat(2000)]: 1 }), /is 2000 characters long/],
    ['huge string', JSON.stringify({ s: 'x'.repeat(MAX_STRING_LENGTH + 1) }), /string of 8193 characters/],
    ['NUL in a string', '{"s":"a\\u0000b"}', /NUL character/],
    ['lone surrogate', '{"s":"\\ud800"}', /lone UTF-16 surrogate/],
    ['Infinity', "{'x': Infinity}", /not a finite number/],
  ])('%s', (_name, payload, reason) => {
    const v = acceptTelemetry(payload, NOW);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.error).toMatch(reason);
  });

  it('accepts months-old history and a clock a few minutes ahead', () => {
    for (const ts of [Date.UTC(2026, 2, 1), MIN_TS_MS, NOW + MAX_FUTURE_SKEW_MS])
      expect(acceptTelemetry(`{"ts":${ts},"values":{"1":true}}`, NOW).ok).toBe(true);
  });

  it('applies the same bounds to attributes', () => {
    expect(acceptAttributes(JSON.stringify({ fw: nest(100) }))).toMatchObject({ ok: false });
    expect(acceptAttributes("{'fw':'1.2.3'}")).toEqual({ ok: true, values: { fw: '1.2.3' } });
  });
});

describe('the worker validates against receive time, not its clock', () => {
  it('accepts a message that waited in the queue (or a dead letter) for months', () => {
    const receivedAt = Date.UTC(2026, 0, 1);
    const v = acceptTelemetry(`{"ts":${receivedAt + 60_000},"values":{"2":false}}`, receivedAt);
    expect(v.ok).toBe(true);
    if (v.ok) expect(validateIngestMessage(queued('telemetry', { entries: v.entries }, receivedAt))).toBeNull();
  });

  it('refuses a future ts relative to the message receive time', () => {
    const m = queued('telemetry', { entries: [{ ts: NOW + 3_600_000, values: { 1: true } }] }, NOW);
    expect(validateIngestMessage(m)).toMatch(/entries\[0\]\.ts .* in the future/);
  });
});

// Timestamps of every unit and sign, and some that are fine.
const tsArb = fc.oneof(
  fc.integer({ min: MIN_TS_MS, max: NOW }),
  fc.integer({ min: 946_684_800, max: 2_000_000_000 }), // seconds
  fc.integer({ min: 946_684_800_000_000, max: 2_000_000_000_000_000 }), // µs
  fc.integer({ min: NOW, max: NOW + 3 * MAX_FUTURE_SKEW_MS }),
  fc.integer({ min: -1e12, max: 0 }),
  fc.double(),
  fc.string(),
  fc.integer({ min: MIN_TS_MS, max: NOW }).map(String),
);
const valuesArb = fc.dictionary(
  fc.oneof(fc.constantFrom('1', '2', '8', '9', 'V', 'ts'), fc.string({ maxLength: 300 })),
  fc.oneof(fc.jsonValue({ maxDepth: MAX_VALUE_DEPTH + 2 }), fc.constantFrom('true', 'false', 0, 1, '229.4')),
  { maxKeys: 20 },
);
const entryArb = fc.oneof(
  valuesArb,
  fc.record({ ts: tsArb, values: valuesArb }),
  fc.record({ ts: tsArb, values: fc.jsonValue({ maxDepth: 4 }) }),
);
const payloadArb = fc.oneof(
  fc.constantFrom(...firmware),
  fc.jsonValue({ maxDepth: MAX_VALUE_DEPTH + 4 }).map((v) => JSON.stringify(v)),
  entryArb.map((e) => JSON.stringify(e)),
  fc.array(entryArb, { maxLength: 5 }).map((a) => JSON.stringify(a)),
  entryArb.map((e) => JSON5.stringify(e)), // single quotes, unquoted names, Infinity
  fc.nat({ max: 6000 }).map(nestedText),
  fc.string({ unit: 'binary' }),
);

describe('property: what the gateway accepts, the worker accepts', () => {
  it('holds for firmware vectors, arbitrary JSON and hostile forms', () => {
    let accepted = 0;
    fc.assert(
      fc.property(payloadArb, fc.integer({ min: MIN_TS_MS, max: Date.UTC(2099, 0, 1) }), (payload, receivedAt) => {
        const t = acceptTelemetry(payload, receivedAt);
        if (t.ok) {
          accepted++;
          expect(validateIngestMessage(queued('telemetry', { entries: t.entries }, receivedAt))).toBeNull();
        }
        const a = acceptAttributes(payload);
        if (a.ok) expect(validateIngestMessage(queued('attributes', { values: a.values }, receivedAt))).toBeNull();
      }),
      { numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(100); // the generator does produce acceptable payloads
  });

  it('holds for device timestamps around any receive time (the worker does not use its own clock)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: MIN_TS_MS, max: Date.UTC(2099, 0, 1) }),
        fc.integer({ min: -5 * 365 * 86_400_000, max: 2 * MAX_FUTURE_SKEW_MS }),
        valuesArb,
        (receivedAt, offset, values) => {
          const t = acceptTelemetry(JSON.stringify({ ts: receivedAt + offset, values }), receivedAt);
          if (t.ok) expect(validateIngestMessage(queued('telemetry', { entries: t.entries }, receivedAt))).toBeNull();
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('every firmware vector is accepted', () => {
    for (const p of firmware) expect(acceptTelemetry(p, NOW)).toMatchObject({ ok: true });
  });

  it('a key at the length limit is accepted, one over is refused', () => {
    expect(acceptTelemetry(JSON.stringify({ ['k'.repeat(MAX_KEY_LENGTH)]: 1 }), NOW).ok).toBe(true);
    expect(acceptTelemetry(JSON.stringify({ ['k'.repeat(MAX_KEY_LENGTH + 1)]: 1 }), NOW).ok).toBe(false);
  });
});
