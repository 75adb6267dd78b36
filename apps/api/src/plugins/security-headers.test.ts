import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApi, TEST_ADMIN_KEY, type TestApi } from '../test-support/test-api.js';

let t: TestApi;
let app: FastifyInstance;

beforeAll(async () => {
  t = await createTestApi('sec_headers');
  app = t.app;
});

afterAll(async () => {
  await t?.close();
});

function expectHardened(headers: Record<string, unknown>) {
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['referrer-policy']).toBe('strict-origin-when-cross-origin');
  expect(headers['x-frame-options']).toBe('DENY');
  const csp = String(headers['content-security-policy']);
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("object-src 'none'");
  // Plain-HTTP deployments on an isolated network must keep working.
  expect(csp).not.toContain('upgrade-insecure-requests');
  expect(headers['strict-transport-security']).toBeUndefined();
}

/** Every header helmet sets with SPMS' options, as @fastify/helmet set them before it was
 *  replaced by one helmet middleware built at start (security-headers.ts). */
const HELMET_HEADERS = {
  'content-security-policy':
    "default-src 'self';script-src 'self';style-src 'self' 'unsafe-inline';img-src 'self' data: blob: https: http:;font-src 'self' data:;connect-src 'self';object-src 'none';base-uri 'self';form-action 'self';frame-ancestors 'none';script-src-attr 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'DENY',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};

describe('security headers', () => {
  it('are all on the fleet status answers: cached, compressed, 304, delta, errors', async () => {
    const auth = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
    const first = await app.inject({ url: '/api/status/compact', headers: auth });
    expect(first.statusCode).toBe(200);
    const answers = [
      first,
      await app.inject({ url: '/api/status/compact', headers: { ...auth, 'accept-encoding': 'gzip' } }),
      await app.inject({ url: '/api/status/compact', headers: { ...auth, 'accept-encoding': 'br' } }),
      await app.inject({
        url: '/api/status/compact',
        headers: { ...auth, 'if-none-match': String(first.headers.etag) },
      }),
      await app.inject({ url: `/api/status/compact?since=${JSON.parse(first.body).cursor}`, headers: auth }),
      await app.inject({ url: '/api/status/compact?since=yesterday', headers: auth }),
      await app.inject({ url: '/api/status/compact' }),
      await app.inject({ url: '/api/status', headers: auth }),
    ];
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200, 304, 200, 400, 401, 200]);
    for (const a of answers) expect(a.headers).toMatchObject(HELMET_HEADERS);
    expect(answers[0]?.headers['strict-transport-security']).toBeUndefined();
  });

  it('are on API answers, errors included', async () => {
    expectHardened((await app.inject({ url: '/api/devices' })).headers);
    const ok = await app.inject({ url: '/api/devices', headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    expect(ok.statusCode).toBe(200);
    expectHardened(ok.headers);
    expectHardened((await app.inject({ url: '/healthz' })).headers);
  });

  it('are on the dashboard, whose policy lets map tiles load from a configured server', async () => {
    const page = await app.inject({ url: '/devices/0003_MSAN' });
    if (page.statusCode === 404) return; // dashboard not built: nothing to check
    expect(page.statusCode).toBe(200);
    expectHardened(page.headers);
    expect(String(page.headers['content-security-policy'])).toMatch(/img-src 'self' data: blob: https: http:/);
  });

  it('leave the interactive docs working', async () => {
    const docs = await app.inject({ url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expectHardened(docs.headers);
    // The page loads only its own files (no inline script), which the policy allows.
    const files = [...docs.body.matchAll(/(?:src|href)="\.\/([^"]+)"/g)].map((m) => m[1]);
    expect(files.length).toBeGreaterThan(2);
    for (const file of files) expect((await app.inject({ url: `/docs/${file}` })).statusCode, file).toBe(200);
    expect(docs.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    const json = await app.inject({ url: '/docs/json' });
    expect(json.statusCode).toBe(200);
  });
});
