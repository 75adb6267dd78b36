import { describe, expect, it } from 'vitest';
import { ConfigError, DatabaseUrl, Port, parseConfig, Type } from './index.js';

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
});
