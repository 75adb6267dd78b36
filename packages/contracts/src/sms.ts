/**
 * What an SMS provider reports back, as it crosses the `sms-inbound` queue (SMPP deliver_sm:
 * delivery receipts and replies; @spms/sms parses them, the alerts processes handle them).
 */

/** An SMS's delivery status in Twilio's words; SMPP receipt states are mapped onto them. */
export type MessageStatus =
  | 'accepted'
  | 'scheduled'
  | 'queued'
  | 'sending'
  | 'sent'
  | 'delivered'
  | 'undelivered'
  | 'failed'
  | 'read'
  | 'partially_delivered'
  | 'canceled'
  | 'receiving'
  | 'received';

export interface SmppReceipt {
  messageId: string;
  status: MessageStatus;
  /** The SMSC's or network's error (the receipt's err: field), when not zero. */
  errorCode?: number;
  /** The receipt's stat: word (DELIVRD…) or message_state name, for the log. */
  state: string;
}

export interface SmppInbound {
  /** Sender in E.164, or the raw address when it could not be read as a phone number. */
  from: string;
  to: string;
  text: string;
}

export type DeliverSm = { kind: 'receipt'; receipt: SmppReceipt } | { kind: 'message'; message: SmppInbound };

/**
 * One `sms-inbound` job (job name = its kind): the deliver_sm and its key, which is the
 * job's id and a reply's message id (a job run twice records and answers the reply once).
 */
export type SmsInboundJob<K extends DeliverSm['kind'] = DeliverSm['kind']> = Extract<DeliverSm, { kind: K }> & {
  key: string;
};
