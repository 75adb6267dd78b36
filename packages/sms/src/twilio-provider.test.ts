import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createConsoleProvider } from './console-provider.js';
import { createSmsProvider } from './factory.js';
import { type FakeTwilio, startFakeTwilio } from './fake-twilio.js';
import { formatOutageSms } from './format.js';
import { sendWithRetry } from './retry.js';
import { classifyTwilioError } from './twilio-errors.js';
import { createTwilioProvider } from './twilio-provider.js';
import type { SmsLogger, TwilioSmsConfig } from './types.js';

const accountSid = `AC${'0123456789abcdef'.repeat(2)}`;
const authToken = 'fake-auth-token-0123456789abcdef';
const to = '+94771234567';
const fast = { baseDelayMs: 5, jitter: false } as const;

let fake: FakeTwilio;
let config: TwilioSmsConfig;

beforeAll(async () => {
  fake = await startFakeTwilio();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.requests.length = 0;
  config = { accountSid, authToken, from: '+15005550006', apiBaseUrl: fake.baseUrl, timeoutMs: 2000 };
});

function recordingLogger() {
  const lines: Array<{ level: string; obj: object; msg?: string }> = [];
  const logger: SmsLogger = {
    info: (obj, msg) => lines.push({ level: 'info', obj, ...(msg ? { msg } : {}) }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, ...(msg ? { msg } : {}) }),
  };
  return { logger, lines };
}

describe('Twilio provider, real SDK against a fake Twilio', () => {
  it('posts To, From, Body and StatusCallback with basic auth, and returns the Message SID', async () => {
    const body = formatOutageSms({ site: 'Kollupitiya', line: 'CEB', since: new Date('2026-11-27T08:35:00Z') });
    const provider = createTwilioProvider({ ...config, statusCallbackUrl: 'https://alerts.example.lk/sms/status' });
    const result = await provider.send({ to, body });

    expect(result).toMatchObject({ provider: 'twilio', status: 'queued', to, segments: 1 });
    expect(result.id).toMatch(/^SM[0-9a-f]{32}$/);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toEqual({
      method: 'POST',
      path: `/2010-04-01/Accounts/${accountSid}/Messages.json`,
      username: accountSid,
      password: authToken,
      form: {
        To: to,
        From: '+15005550006',
        Body: 'SPMS ALERT: Kollupitiya - CEB supply lost 27 Nov 14:05',
        StatusCallback: 'https://alerts.example.lk/sms/status',
      },
    });
  });

  it('sends through a messaging service, with a per-message callback URL overriding the configured one', async () => {
    const provider = createTwilioProvider({
      accountSid,
      authToken,
      messagingServiceSid: `MG${'a1'.repeat(16)}`,
      statusCallbackUrl: 'https://alerts.example.lk/sms/status',
      apiBaseUrl: fake.baseUrl,
    });
    const result = await provider.send({
      to,
      body: 'test',
      statusCallbackUrl: 'https://alerts.example.lk/sms/status?alert=7',
    });
    expect(result.status).toBe('accepted');
    expect(fake.requests[0]?.form).toEqual({
      To: to,
      Body: 'test',
      MessagingServiceSid: `MG${'a1'.repeat(16)}`,
      StatusCallback: 'https://alerts.example.lk/sms/status?alert=7',
    });
  });

  it('retries 429 (20429) and 500 with back-off, then succeeds', async () => {
    fake.reply(
      { status: 429, code: 20429, message: 'Too Many Requests' },
      { status: 500, rawBody: '<html>502</html>' },
    );
    const retries: Array<{ attempt: number; delayMs: number; retry: boolean; code?: number; status?: number }> = [];
    const outcome = await sendWithRetry(
      createTwilioProvider(config),
      { to, body: 'test' },
      { ...fast, onRetry: ({ attempt, delayMs, classification: c }) => retries.push({ attempt, delayMs, ...c }) },
    );
    expect(outcome).toMatchObject({ ok: true, attempts: 3 });
    expect(fake.requests).toHaveLength(3);
    expect(
      retries.map(({ attempt, delayMs, retry, code, status }) => ({ attempt, delayMs, retry, code, status })),
    ).toEqual([
      { attempt: 1, delayMs: 5, retry: true, code: 20429, status: 429 },
      { attempt: 2, delayMs: 10, retry: true, code: undefined, status: 500 },
    ]);
  });

  it('does not retry an invalid number (21211) and reports the code', async () => {
    fake.reply({ status: 400, code: 21211, message: "The 'To' number +94000 is not a valid phone number." });
    const outcome = await sendWithRetry(createTwilioProvider(config), { to: '+9477000000', body: 'test' }, fast);
    expect(outcome).toEqual({
      ok: false,
      exhausted: false,
      code: 21211,
      status: 400,
      reason: "21211 invalid 'To' phone number",
      attempts: 1,
    });
    expect(fake.requests).toHaveLength(1);
  });

  it('does not retry opted-out (21610) or landline (21614) recipients', async () => {
    for (const code of [21610, 21614]) {
      fake.requests.length = 0;
      fake.reply({ status: 400, code });
      const outcome = await sendWithRetry(createTwilioProvider(config), { to, body: 'test' }, fast);
      expect(outcome).toMatchObject({ ok: false, exhausted: false, code, attempts: 1 });
      expect(fake.requests).toHaveLength(1);
    }
  });

  it('gives up after the configured attempts when Twilio keeps failing', async () => {
    fake.reply({ status: 503 }, { status: 503 }, { status: 503 });
    const outcome = await sendWithRetry(createTwilioProvider(config), { to, body: 'test' }, { ...fast, attempts: 3 });
    expect(outcome).toMatchObject({ ok: false, exhausted: true, status: 503, attempts: 3 });
    expect(fake.requests).toHaveLength(3);
  });

  it('treats a timeout as retryable', async () => {
    fake.reply('hang');
    const provider = createTwilioProvider({ ...config, timeoutMs: 300 });
    const err = await provider.send({ to, body: 'test' }).catch((e: unknown) => e);
    expect(classifyTwilioError(err)).toMatchObject({ retry: true, reason: expect.stringMatching(/^network error/) });
  });

  it('treats a refused connection as retryable', async () => {
    const gone = await startFakeTwilio();
    await gone.close();
    const provider = createTwilioProvider({ ...config, apiBaseUrl: gone.baseUrl });
    const err = await provider.send({ to, body: 'test' }).catch((e: unknown) => e);
    expect(classifyTwilioError(err)).toMatchObject({ retry: true, reason: expect.stringMatching(/^network error E/) });
  });

  it('refuses a non-E.164 recipient before calling Twilio', async () => {
    const outcome = await sendWithRetry(createTwilioProvider(config), { to: '0771234567', body: 'test' }, fast);
    expect(outcome).toMatchObject({ ok: false, exhausted: false, code: 21211, attempts: 1 });
    expect(fake.requests).toHaveLength(0);
  });
});

describe('classifyTwilioError', () => {
  it('decides from Twilio code first, then HTTP status, then network code', () => {
    expect(classifyTwilioError({ status: 400, code: 21610, message: 'x' })).toMatchObject({
      retry: false,
      code: 21610,
    });
    expect(classifyTwilioError({ status: 400, code: 21611, message: 'x' })).toMatchObject({ retry: true, code: 21611 });
    expect(classifyTwilioError({ status: 401, code: 20003, message: 'x' })).toMatchObject({ retry: false });
    expect(classifyTwilioError({ status: 400, code: 29999, message: 'new thing' })).toEqual({
      retry: false,
      code: 29999,
      status: 400,
      reason: '29999 new thing',
    });
    expect(classifyTwilioError({ status: 429 })).toMatchObject({ retry: true });
    expect(classifyTwilioError({ status: 502, message: '' })).toMatchObject({
      retry: true,
      reason: 'HTTP 502: no details',
    });
    expect(classifyTwilioError(Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' }))).toMatchObject(
      {
        retry: true,
      },
    );
    expect(classifyTwilioError(new TypeError('x is undefined'))).toMatchObject({ retry: false });
  });
});

describe('createSmsProvider', () => {
  it('logs instead of sending when no credentials are configured', async () => {
    const { logger, lines } = recordingLogger();
    const provider = createSmsProvider(undefined, logger);
    expect(provider.name).toBe('console');
    const result = await provider.send({ to, body: 'SPMS ALERT: test' });
    expect(result).toMatchObject({ provider: 'console', status: 'logged', to, segments: 1 });
    expect(lines.map((l) => l.level)).toEqual(['warn', 'info']);
    expect(lines[1]?.obj).toEqual({
      sms: { id: result.id, to, body: 'SPMS ALERT: test', segments: 1, encoding: 'GSM-7' },
    });
    expect(createSmsProvider({}, logger).name).toBe('console');
  });

  it('chooses Twilio with credentials and fails fast on a half-filled config', async () => {
    const { logger } = recordingLogger();
    const provider = createSmsProvider(config, logger);
    expect(provider.name).toBe('twilio');
    await provider.send({ to, body: 'test' });
    expect(fake.requests).toHaveLength(1);
    expect(() => createSmsProvider({ accountSid }, logger)).toThrow(/authToken is required; set from/);
    expect(() => createSmsProvider({ ...config, accountSid: 'SK123' }, logger)).toThrow(/accountSid must be AC/);
    expect(() => createSmsProvider({ ...config, accountSid: 'SK123' }, logger)).not.toThrow(new RegExp(authToken));
  });

  it('console provider checks recipients like Twilio does', async () => {
    const provider = createConsoleProvider(recordingLogger().logger);
    await expect(provider.send({ to: '077 123 4567', body: 'x' })).rejects.toThrow(/not E.164/);
    await expect(provider.send({ to, body: '  ' })).rejects.toThrow(/empty/);
  });
});
