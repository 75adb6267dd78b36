/**
 * POST /api/sms/status: Twilio's delivery receipts (StatusCallback), form-encoded and signed
 * in X-Twilio-Signature (twilio-webhook.ts). Recorded by @spms/sms recordDeliveryReceipt, the
 * same code that records SMPP receipts in the worker. Forged or unsigned requests get 403.
 */
import { parseStatusCallback, recordDeliveryReceipt, StatusCallbackError } from '@spms/sms';
import type { FastifyPluginAsync } from 'fastify';
import { parseTwilioForms, signedTwilioForm } from './twilio-webhook.js';

const smsStatusRoutes: FastifyPluginAsync = async (app) => {
  parseTwilioForms(app);
  app.post('/', async (req, reply) => {
    const params = signedTwilioForm(app, req, reply);
    if (!params) return reply;
    try {
      const receipt = parseStatusCallback(params);
      const known = await recordDeliveryReceipt(app.pg, {
        messageIds: [receipt.messageSid],
        status: receipt.status,
        ...(receipt.errorCode !== undefined ? { errorCode: receipt.errorCode } : {}),
      });
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
