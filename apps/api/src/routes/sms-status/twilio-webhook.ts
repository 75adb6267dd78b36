/**
 * What Twilio's webhooks (delivery receipts, inbound texts) share: the form body kept exactly
 * as posted, and the signature check. Twilio signs the public URL it called; behind a proxy
 * that is rebuilt as the origin of SMS_STATUS_CALLBACK_URL + the request's path and query.
 */
import { TWILIO_SIGNATURE_HEADER, TWILIO_SIGNATURE_SETTINGS_HEADER, verifyTwilioSignature } from '@spms/sms';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** In this plugin's scope: form fields as strings, empty ones kept (the signature covers them all). */
export function parseTwilioForms(app: FastifyInstance): void {
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 65536 },
    (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    },
  );
}

/**
 * The form fields of a request Twilio signed; otherwise answers 503 (not configured) or 403
 * (missing or forged signature) and returns undefined.
 */
export function signedTwilioForm(
  app: FastifyInstance,
  req: FastifyRequest,
  reply: FastifyReply,
): Record<string, string> | undefined {
  const { TWILIO_AUTH_TOKEN: authToken, SMS_STATUS_CALLBACK_URL: publicUrl } = app.config;
  if (!authToken || !publicUrl) {
    void reply
      .status(503)
      .send({ error: 'UNAVAILABLE', message: 'TWILIO_AUTH_TOKEN / SMS_STATUS_CALLBACK_URL not configured' });
    return undefined;
  }
  const params = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, string>;
  const signature = req.headers[TWILIO_SIGNATURE_HEADER];
  const settings = req.headers[TWILIO_SIGNATURE_SETTINGS_HEADER];
  const ok =
    typeof signature === 'string' &&
    verifyTwilioSignature({
      authToken,
      url: `${new URL(publicUrl).origin}${req.url}`,
      params,
      signature,
      ...(typeof settings === 'string' ? { signatureSettings: settings } : {}),
    });
  if (!ok) {
    req.log.warn({ ip: req.ip, url: req.url }, 'Twilio webhook with a missing or invalid signature');
    void reply.status(403).send({ error: 'FORBIDDEN', message: 'invalid X-Twilio-Signature' });
    return undefined;
  }
  return params;
}
