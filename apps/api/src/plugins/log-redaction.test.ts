import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { errorsPlugin } from './errors.js';
import { lazyRedactingChild, redactUrl, redactUrlsInRequestLogs } from './log-redaction.js';

describe('redactUrl', () => {
  it('hides device tokens in paths and access tokens in queries, nothing else', () => {
    expect(redactUrl('/api/v1/A1b2C3d4/telemetry')).toBe('/api/v1/<token>/telemetry');
    expect(redactUrl('/api/stream?access_token=s3cret&x=1')).toBe('/api/stream?access_token=[redacted]&x=1');
    expect(redactUrl('/api/stream?x=1&ACCESS_TOKEN=s3cret')).toBe('/api/stream?x=1&ACCESS_TOKEN=[redacted]');
    expect(redactUrl('/api/outages?from=2026-01-01')).toBe('/api/outages?from=2026-01-01');
  });

  it('keeps both secrets out of the request log of routes registered in child plugins', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const app = Fastify({ loggerInstance: pino({ level: 'info' }, sink) as unknown as FastifyBaseLogger });
    redactUrlsInRequestLogs(app);
    await app.register(async (child) => {
      child.post('/api/v1/:token/telemetry', async () => ({}));
      child.get('/api/stream', async () => ({}));
    });
    await app.inject({ method: 'POST', url: '/api/v1/DEVICE-SECRET-1/telemetry', payload: {} });
    await app.inject('/api/stream?access_token=SESSION-SECRET-2');
    await app.close();
    const log = lines.join('');
    expect(log).toContain('/api/v1/<token>/telemetry');
    expect(log).toContain('access_token=[redacted]');
    expect(log).not.toContain('DEVICE-SECRET-1');
    expect(log).not.toContain('SESSION-SECRET-2');
  });
});

describe('request logs on every path', () => {
  it('never contain a device token: 404 (unknown sub-path, wrong method), error logs, access_token', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const app = Fastify({ loggerInstance: pino({ level: 'debug' }, sink) as unknown as FastifyBaseLogger });
    redactUrlsInRequestLogs(app);
    await app.register(errorsPlugin);
    await app.register(
      async (child) => {
        child.post('/:token/telemetry', async () => ({}));
        child.get('/:token/attributes', async (req) => {
          // An error whose message, stack and fields carry the URL (e.g. a failed query).
          const err = Object.assign(new Error(`failed on ${req.url}`), { url: req.url });
          req.log.warn({ path: req.url, nested: { list: [req.url] } }, `slow request ${req.url}`);
          throw err;
        });
      },
      { prefix: '/api/v1' },
    );
    await app.register(async (child) => {
      child.get('/api/stream', async () => ({}));
    });
    const claim = await app.inject({ method: 'POST', url: '/api/v1/DEVICE-SECRET-404/claim', payload: {} });
    expect(claim.statusCode).toBe(404);
    const wrongMethod = await app.inject({ method: 'GET', url: '/api/v1/DEVICE-SECRET-GET/telemetry' });
    expect(wrongMethod.statusCode).toBe(404);
    const failing = await app.inject({ method: 'GET', url: '/api/v1/DEVICE-SECRET-500/attributes?clientKeys=a' });
    expect(failing.statusCode).toBe(500);
    await app.inject('/api/stream?access_token=SESSION-SECRET-3');
    await app.inject('/api/unknown?access_token=SESSION-SECRET-404');
    await app.close();
    const log = lines.join('');
    expect(log).toContain('/api/v1/<token>/claim');
    expect(log).toContain('/api/v1/<token>/attributes');
    expect(log).toContain('request failed');
    for (const secret of [
      'DEVICE-SECRET-404',
      'DEVICE-SECRET-GET',
      'DEVICE-SECRET-500',
      'SESSION-SECRET-3',
      'SESSION-SECRET-404',
    ])
      expect(log).not.toContain(secret);
  });
});

describe('the lazily made request logger (lazyRedactingChild, the fleet status routes)', () => {
  async function appLoggingAt(level: string) {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const app = Fastify({ loggerInstance: pino({ level }, sink) as unknown as FastifyBaseLogger });
    redactUrlsInRequestLogs(app);
    await app.register(errorsPlugin);
    await app.register(async (child) => {
      child.get('/api/status/compact', { childLoggerFactory: lazyRedactingChild }, async (req) => {
        req.log.debug(`debug ${req.url}`);
        req.log.info({ path: req.url }, `info ${req.url}`);
        req.log.warn({ path: req.url }, `warn ${req.url}`);
        req.log.child({ part: 'x' }).error({ path: req.url }, `child ${req.url}`);
        if (req.url.includes('fail')) throw new Error(`failed on ${req.url}`);
        return { level: req.log.level };
      });
    });
    return { app, lines };
  }

  it('writes what the route writes at the enabled levels, redacted, and nothing below them', async () => {
    for (const level of ['info', 'warn'] as const) {
      const { app, lines } = await appLoggingAt(level);
      const ok = await app.inject('/api/status/compact?access_token=SECRET-OK');
      expect(ok.json()).toEqual({ level });
      expect((await app.inject('/api/status/compact?fail=1&access_token=SECRET-FAIL')).statusCode).toBe(500);
      await app.close();
      const log = lines.join('');
      expect(log).not.toContain('SECRET-');
      expect(log).not.toContain('"msg":"debug');
      expect(log).toContain('"msg":"warn /api/status/compact?access_token=[redacted]"');
      expect(log).toContain('"msg":"child /api/status/compact?access_token=[redacted]"');
      expect(log).toContain('"part":"x"');
      expect(log).toContain('request failed');
      expect(log.includes('"msg":"info ')).toBe(level === 'info');
      expect(log.includes('incoming request')).toBe(level === 'info');
    }
  });
});
