import { parseConfig, RedisPrefix, RedisUrl, Type } from '@spms/config';
import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createRedis } from './redis-connection.js';
import { isHashTagged, parseRedisUrl, redact, redisLayoutProblem } from './redis-url.js';

describe('parseRedisUrl', () => {
  it('leaves a plain URL to ioredis', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379/2')).toEqual({ kind: 'single', url: 'redis://127.0.0.1:6379/2' });
    expect(parseRedisUrl('rediss://:pw@cache.internal:6380')).toMatchObject({ kind: 'single' });
  });

  it('reads sentinels, the master name, the database and credentials', () => {
    expect(
      parseRedisUrl(
        'redis+sentinel://spms:s%40cret@10.0.0.1:26379,10.0.0.2,[fd00::3]:26380/mymaster/1?sentinelPassword=sp',
      ),
    ).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26379 },
        { host: 'fd00::3', port: 26380 },
      ],
      name: 'mymaster',
      db: 1,
      tls: false,
      username: 'spms',
      password: 's@cret',
      sentinelPassword: 'sp',
    });
    expect(parseRedisUrl('rediss+sentinel://:pw@s1:26379/main')).toEqual({
      kind: 'sentinel',
      sentinels: [{ host: 's1', port: 26379 }],
      name: 'main',
      db: 0,
      tls: true,
      password: 'pw',
    });
  });

  it('reads cluster seed nodes', () => {
    expect(parseRedisUrl('redis+cluster://n1:7000,n2:7001,n3')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
        { host: 'n3', port: 6379 },
      ],
      tls: false,
    });
  });

  it('says what is wrong, without the password', () => {
    expect(() => parseRedisUrl('redis+sentinel://:hunter2@s1:26379')).toThrow(/master name/);
    expect(() => parseRedisUrl('redis+sentinel://:hunter2@s1:99999/m')).toThrow(/port/);
    expect(() => parseRedisUrl('http://:hunter2@x')).toThrow(/not a redis/);
    try {
      parseRedisUrl('http://:hunter2@x');
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
    expect(redact('redis://user:pw@h:1')).toBe('redis://user:***@h:1');
  });
});

describe('hash-tagged prefixes', () => {
  it('needs a complete, non-empty tag', () => {
    expect(isHashTagged('{spms}')).toBe(true);
    expect(isHashTagged('prod:{spms}:x')).toBe(true);
    expect(isHashTagged('spms')).toBe(false);
    expect(isHashTagged('{}spms')).toBe(false);
    expect(isHashTagged('{spms')).toBe(false);
  });

  it('is required on Redis Cluster only', () => {
    expect(redisLayoutProblem('redis://h:6379', 'spms')).toBeNull();
    expect(redisLayoutProblem('redis+sentinel://h:26379/m', 'spms')).toBeNull();
    expect(redisLayoutProblem('redis+cluster://h:7000', '{spms}')).toBeNull();
    expect(redisLayoutProblem('redis+cluster://h:7000', 'spms')).toMatch(/REDIS_PREFIX=\{spms\}/);
  });

  it('passes the configuration schema', () => {
    const schema = Type.Object({ REDIS_URL: RedisUrl, REDIS_PREFIX: RedisPrefix });
    expect(parseConfig(schema, { REDIS_URL: 'redis+cluster://h:7000', REDIS_PREFIX: '{spms}' })).toEqual({
      REDIS_URL: 'redis+cluster://h:7000',
      REDIS_PREFIX: '{spms}',
    });
    expect(() => parseConfig(schema, { REDIS_URL: 'http://h' })).toThrow(/REDIS_URL/);
  });
});

describe('createRedis', () => {
  it('hands sentinels, master name and credentials to ioredis (no connection made)', () => {
    const r = createRedis('redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2:26380/mymaster/2', {
      lazyConnect: true,
      maxRetriesPerRequest: null,
    });
    expect(r.options).toMatchObject({
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
      ],
      name: 'mymaster',
      db: 2,
      password: 'pw',
      lazyConnect: true,
      maxRetriesPerRequest: null,
    });
    r.disconnect();
  });

  it('opens a Cluster client for redis+cluster:// and a plain one otherwise', () => {
    const c = createRedis('redis+cluster://127.0.0.1:7000,127.0.0.1:7001', { lazyConnect: true });
    expect(c).toBeInstanceOf(Cluster);
    c.disconnect();
    const p = createRedis('redis://127.0.0.1:6379/3', { lazyConnect: true });
    expect(p).toBeInstanceOf(Redis);
    expect(p.options.db).toBe(3);
    p.disconnect();
  });
});
