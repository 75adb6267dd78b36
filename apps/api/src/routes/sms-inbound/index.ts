/**
 * POST /api/sms/inbound: texts sent to our Twilio number (the number's "A message comes in"
 * webhook), form-encoded and signed like the delivery receipts. Each is handled by @spms/sms
 * handleInboundSms (the same handler as SMPP replies in the worker): recorded whatever it
 * says, and an ACK acknowledges what that number was texted about, within its recipient's
 * scope. The answer, if any, goes back as TwiML; otherwise an empty <Response/>. Public (no
 * bearer): the Twilio signature is the authentication, so a forged request gets 403.
 */
import { handleInboundSms, twimlResponse } from '@spms/sms';
import type { FastifyPluginAsync } from 'fastify';
import { ErrorBody } from '../error-schema.js';
import { parseTwilioForms, signedTwilioForm } from '../sms-status/twilio-webhook.js';

const smsInboundRoutes: FastifyPluginAsync = async (app) => {
  parseTwilioForms(app);
  app.post(
    '/',
    {
      schema: {
        description:
          "Twilio's inbound-message webhook (form fields From, To, Body, MessageSid; signed in X-Twilio-Signature). " +
          'Replies ACK, ACK <code> or ACK ALL acknowledge alerts texted to that number. Answers TwiML.',
        response: {
          200: { type: 'string', description: 'TwiML: <Response/> or <Response><Message>…</Message></Response>' },
          400: ErrorBody,
          403: ErrorBody,
          503: ErrorBody,
        },
      },
    },
    async (req, reply) => {
      const params = signedTwilioForm(app, req, reply);
      if (!params) return reply;
      const { From: from, To: to, Body: body, MessageSid: sid } = params;
      if (!from || !sid || body === undefined) {
        return reply
          .status(400)
          .send({ error: 'BAD_REQUEST', message: 'inbound message without From, Body or MessageSid' });
      }
      const result = await handleInboundSms(
        app.pg,
        { provider: 'twilio', providerMessageId: sid, from, to: to ?? '', text: body },
        { maxRepliesPerHour: app.config.SMS_REPLY_MAX_PER_HOUR },
      );
      req.log.info(
        { inboundId: result.id, outcome: result.outcome, acknowledged: result.acknowledged.length },
        'SMS reply',
      );
      return reply.status(200).type('text/xml').send(twimlResponse(result.reply));
    },
  );
};

export default smsInboundRoutes;
