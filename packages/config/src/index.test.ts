import { describe, expect, it } from 'vitest';
import { ConfigError, DatabaseUrl, Port, parseConfig, ServiceConfigProps, Type } from './index.js';

const schema = Type.Object({ DATABASE_URL: DatabaseUrl, MQTT_PORT: Port(1883), SECRET: Type.Optional(Type.String()) });

describe('parseConfig', () => {
  it('converts, defaults and ignores unrelated variables', () => {
    const cfg = parseConfig(schema, { DATABASE_URL: 'postgresql://x/y', PATH: '/bin' });
    expect(cfg).toEqual({ DATABASE_URL: 'postgresql://x/y', MQTT_PORT: 1883 });
  });

  it('names every bad variable and never echoes values', () => {
    try {
      parseConfig(schema, { MQTT_PORT: 'eighty', SECRET: 'hunter2' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const msg = (err as Error).message;
      expect(msg).toContain('DATABASE_URL: required');
      expect(msg).toContain('MQTT_PORT');
      expect(msg).not.toContain('eighty');
      expect(msg).not.toContain('hunter2');
    }
  });

  it('treats an empty variable as unset', () => {
    expect(parseConfig(schema, { DATABASE_URL: 'postgres://h/d', MQTT_PORT: '' }).MQTT_PORT).toBe(1883);
  });

  it('runs the checks on the parsed whole and throws every problem they find at once', () => {
    const both = Type.Object({ A: Port(1), B: Port(2) });
    const distinct = (c: { A: number; B: number }) => (c.A === c.B ? 'A and B: must differ' : undefined);
    const odd = (c: { A: number }) => (c.A % 2 ? undefined : 'A: must be odd');
    expect(parseConfig(both, { A: '3' }, distinct, odd)).toEqual({ A: 3, B: 2 });
    expect(() => parseConfig(both, { A: '2' }, distinct, odd)).toThrow(/A and B: must differ\n {2}- A: must be odd/);
  });

  it('gives every service the same standard variables', () => {
    const cfg = parseConfig(Type.Object({ ...ServiceConfigProps }), { DATABASE_URL: 'postgres://h/d' });
    expect(cfg).toEqual({
      DATABASE_URL: 'postgres://h/d',
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_PREFIX: 'spms',
      LOG_LEVEL: 'info',
      REQUIRE_DURABLE_REDIS: false,
    });
  });
});
