/**
 * "Are texts really being sent?" at a glance: the alert processes record their SMS provider
 * in Redis and GET /api/system reports it to the dashboard — none running, only logging
 * (no provider configured: the defaults an install starts with), or sending.
 */
import { parseConfig } from '@spms/config';
import { createLogger } from '@spms/log';
import { afterAll, describe, expect, it } from 'vitest';
import { AlertsConfigSchema, startAlerts } from '../../apps/alerts/src/alerts.js';
import { createTestApi, TEST_ADMIN_KEY, type TestApi } from '../../apps/api/src/test-support/test-api.js';

const logger = createLogger({ name: 'e2e-sms', level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });
let t: TestApi | undefined;
afterAll(() => t?.close());

const sms = async () =>
  (await t?.app.inject({ url: '/api/system', headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } }))?.json().sms;

describe('SMS provider status', () => {
  it('says when nothing sends texts, when texts are only logged, and forgets a stopped sender', async () => {
    t = await createTestApi('sms_status');
    expect(await sms()).toEqual({ mode: 'none', replies: null, senders: [] });
    // The alert processes with the defaults of an install: no Twilio variables set.
    const alerts = await startAlerts(
      {
        ...parseConfig(AlertsConfigSchema, {}),
        DATABASE_URL: t.db.url,
        REDIS_URL: t.redis.url,
        REDIS_PREFIX: t.redis.prefix,
      },
      { logger },
    );
    try {
      const now = await sms();
      expect(now.mode).toBe('console');
      expect(now.replies).toBe(false); // a console provider cannot receive answers
      expect(now.senders).toHaveLength(1);
      expect(now.senders[0].at).toBeLessThanOrEqual(Date.now());
    } finally {
      await alerts.close();
    }
    expect(await sms()).toEqual({ mode: 'none', replies: null, senders: [] });
  });
});
