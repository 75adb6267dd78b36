/** TwiML for Twilio's inbound-message webhook, built by the SDK (escaping included). */
import twilio from 'twilio';

/** `<Response/>`, or `<Response><Message>text</Message></Response>` to answer the sender. */
export function twimlResponse(message?: string): string {
  const r = new twilio.twiml.MessagingResponse();
  if (message) r.message(message);
  return r.toString();
}
