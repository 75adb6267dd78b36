/**
 * POST /api/sms/status: Twilio's delivery receipts (StatusCallback), form-encoded and signed
 * in X-Twilio-Signature. The signature is over the URL Twilio called, which behind a proxy
 * is not the one we see: it is rebuilt as the origin of SMS_STATUS_CALLBACK_URL + the
 * request's path and query. Forged or unsigned requests get 403.
 */
import {
  parseStatusCallback,
  StatusCallbackError,
  TWILIO_SIGNATURE_HEADER,
  TWILIO_SIGNATURE_SETTINGS_HEADER,
  verifyTwilioSignature,
} from '@spms/sms';
import type { FastifyPluginAsync } from 'fastify';
import { recordReceipt } from '../../services/notifications.js';

const smsStatusRoutes: FastifyPluginAsync = async (app) => {
  // Fields exactly as posted (strings, empty ones kept): the signature covers them all.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 65536 },
    (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    },
  );
  const { TWILIO_AUTH_TOKEN: authToken, SMS_STATUS_CALLBACK_URL: publicUrl } = app.config;
  const origin = publicUrl ? new URL(publicUrl).origin : undefined;

  app.post('/', async (req, reply) => {
    if (!authToken || !origin) {
      return reply
        .status(503)
        .send({ error: 'UNAVAILABLE', message: 'TWILIO_AUTH_TOKEN / SMS_STATUS_CALLBACK_URL not configured' });
    }
    const params = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, string>;
    const signature = req.headers[TWILIO_SIGNATURE_HEADER];
    const settings = req.headers[TWILIO_SIGNATURE_SETTINGS_HEADER];
    const ok =
      typeof signature === 'string' &&
      verifyTwilioSignature({
        authToken,
        url: `${origin}${req.url}`,
        params,
        signature,
        ...(typeof settings === 'string' ? { signatureSettings: settings } : {}),
      });
    if (!ok) {
      req.log.warn({ ip: req.ip }, 'SMS status callback with a missing or invalid signature');
      return reply.status(403).send({ error: 'FORBIDDEN', message: 'invalid X-Twilio-Signature' });
    }
    try {
      const receipt = parseStatusCallback(params);
      const known = await recordReceipt(app.pg, receipt);
      if (!known) req.log.info({ messageSid: receipt.messageSid }, 'receipt for an unknown message');
    } catch (err) {
      if (err instanceof StatusCallbackError)
        return reply.status(400).send({ error: 'BAD_REQUEST', message: err.message });
      throw err;
    }
    // Twilio only needs a 2xx; an empty TwiML-free body is fine.
    return reply.status(204).send();
  });
};

export default smsStatusRoutes;
