/**
 * The alerts process's configuration: one TypeBox schema, parsed once at start-up
 * (`loadAlertsConfig(process.env)`); keys are the environment variable names, the same ones
 * the worker read when alerts ran inside it, so an existing .env keeps working.
 * `AlertsConfigSchema` alone is what `startAlerts` needs (tests and the demo parse it).
 */
import { Port, parseConfig, ServiceConfigProps, type Static, Type } from '@spms/config';
import { redisLayoutProblem } from '@spms/queue';

const ms = (def: number, min = 0) => Type.Integer({ minimum: min, default: def, description: 'milliseconds' });

export const AlertsConfigSchema = Type.Object({
  /** Set to false to run the process without consuming domain events (ALERTS_PROCESSES=0 in
   *  `npm start` runs none). */
  ALERTS_ENABLED: Type.Boolean({ default: true }),
  /** Twilio: all empty → the console provider logs texts instead of sending them. */
  TWILIO_ACCOUNT_SID: Type.Optional(Type.String({ pattern: '^AC[0-9a-fA-F]{32}$' })),
  TWILIO_AUTH_TOKEN: Type.Optional(Type.String({ minLength: 8 })),
  /** Sender in E.164 (or an alphanumeric sender id); or TWILIO_MESSAGING_SERVICE_SID. */
  TWILIO_FROM: Type.Optional(Type.String({ minLength: 1 })),
  TWILIO_MESSAGING_SERVICE_SID: Type.Optional(Type.String({ pattern: '^MG[0-9a-fA-F]{32}$' })),
  /** Public URL of POST /api/sms/status (Twilio signs this exact URL). */
  SMS_STATUS_CALLBACK_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  /** Twilio API base URL: an egress proxy, or the fake server in tests. */
  TWILIO_API_BASE_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  TWILIO_TIMEOUT_MS: ms(10_000, 100),
  /** twilio | smpp | console. Unset: Twilio when a TWILIO_* variable is set, else console (logs only). */
  SMS_PROVIDER: Type.Optional(
    Type.Union([Type.Literal('twilio'), Type.Literal('smpp'), Type.Literal('console')], {
      description: 'twilio, smpp or console',
    }),
  ),
  /** SMPP 3.4 SMSC: smpp://system_id:password@host:2775 (smpps:// for TLS). Secret: never logged. */
  SMPP_URL: Type.Optional(Type.String({ pattern: '^smpps?://', description: 'smpp://system_id:password@host:port' })),
  /** Sender: +E.164 number or short code (replies possible), or an alphanumeric id of up to 11 characters. */
  SMPP_SOURCE_ADDR: Type.Optional(Type.String({ minLength: 1, maxLength: 20 })),
  /** Override the sender's guessed TON / NPI (alphanumeric 5/0, international 1/1, short code 3/0). */
  SMPP_SOURCE_TON: Type.Optional(Type.Integer({ minimum: 0, maximum: 6 })),
  SMPP_SOURCE_NPI: Type.Optional(Type.Integer({ minimum: 0, maximum: 18 })),
  SMPP_SYSTEM_TYPE: Type.String({ default: '', maxLength: 12 }),
  /** Most submit_sm awaiting their response, per process. */
  SMPP_WINDOW: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
  /** Submissions per second per process (0 = no cap); the SMSC's contract usually sets it. */
  SMPP_MAX_PER_SECOND: Type.Number({ minimum: 0, default: 10 }),
  SMPP_ENQUIRE_LINK_MS: ms(30_000, 1000),
  SMPP_RESPONSE_TIMEOUT_MS: ms(10_000, 100),
  /** Longer than one segment: false shortens to one segment, true sends it whole (message_payload). */
  SMPP_ALLOW_LONG: Type.Boolean({ default: false }),
  /** smpps: verify the SMSC's certificate. */
  SMPP_TLS_VERIFY: Type.Boolean({ default: true }),
  /** smpps: PEM file of the CA that signed the SMSC's certificate, when it is not a public CA. */
  SMPP_TLS_CA: Type.Optional(Type.String({ minLength: 1, description: 'path to a PEM file' })),
  /** Answers to replies (acknowledged / no open alert…) per phone number per hour. */
  SMS_REPLY_MAX_PER_HOUR: Type.Integer({ minimum: 0, maximum: 100, default: 5 }),
  /** Texts one recipient would get within this window become one message (Alertmanager group_wait). */
  ALERT_GROUP_WINDOW_MS: ms(30_000),
  /** After a text, the next one about the same group waits this long (Alertmanager group_interval). */
  ALERT_GROUP_INTERVAL_MS: ms(60_000),
  /** Texts per recipient per cap window; the rest become one overflow summary. */
  ALERT_MAX_PER_HOUR: Type.Integer({ minimum: 1, default: 10 }),
  ALERT_CAP_WINDOW_MS: ms(3_600_000, 1000),
  /** Overrides every device's/profile's alertDebounceSec (tests and benchmarks). No default:
   *  unset, each device waits its own (or its profile's) alertDebounceSec. */
  ALERT_DEBOUNCE_MS: Type.Optional(Type.Integer({ minimum: 0, description: 'milliseconds' })),
  /** Flapping: enter at this many state changes within the window… */
  ALERT_FLAP_THRESHOLD: Type.Integer({ minimum: 2, default: 6 }),
  ALERT_FLAP_WINDOW_MS: ms(600_000, 1000),
  /** …leave when fewer than this many remain in the window and none for the quiet period. */
  ALERT_FLAP_CLEAR_BELOW: Type.Integer({ minimum: 1, default: 2 }),
  ALERT_FLAP_QUIET_MS: ms(600_000),
  /** Send attempts on 429/5xx/network errors, exponential back-off from the base delay. */
  ALERT_SMS_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 20, default: 6 }),
  ALERT_SMS_BACKOFF_MS: ms(2000, 1),
  ALERT_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 64, default: 8 }),
  /** E-mail channel: smtp://user:pass@host:587 (STARTTLS when offered) or smtps://…:465. Unset: e-mail off. */
  SMTP_URL: Type.Optional(Type.String({ pattern: '^smtps?://' })),
  /** Sender of alert and report e-mails ('SPMS <spms@example.lk>'); use an address the server may send as. */
  SMTP_FROM: Type.String({ default: 'SPMS <spms@localhost>', minLength: 3 }),
  SMTP_TIMEOUT_MS: ms(20_000, 100),
  /** First wait before an e-mail is retried (4xx, connection refused, timeout); doubles each time, 10 tries. */
  EMAIL_BACKOFF_MS: ms(5000, 1),
  /** Local time of message texts and of quiet hours without a zone of their own. */
  SPMS_TIME_ZONE: Type.String({ default: 'Asia/Colombo', minLength: 1 }),
});

export type AlertsConfig = Static<typeof AlertsConfigSchema> & {
  DATABASE_URL: string;
  REDIS_URL: string;
  REDIS_PREFIX: string;
};

export const AlertsProcessConfigSchema = Type.Object({
  // REQUIRE_DURABLE_REDIS among them: the alert timers and send jobs live in Redis.
  ...ServiceConfigProps,
  /** Prometheus metrics (`/metrics`) and liveness (`/healthz`) of the alerts process (0 = any free port). */
  ALERTS_HTTP_PORT: Port(9465),
  ALERTS_HTTP_HOST: Type.String({ default: '0.0.0.0' }),
  ...AlertsConfigSchema.properties,
});

export type AlertsProcessConfig = Static<typeof AlertsProcessConfigSchema>;

export function loadAlertsConfig(env: Record<string, string | undefined>): AlertsProcessConfig {
  // REDIS_URL's form (one server, Sentinel, Cluster) and, on Cluster, a hash-tagged REDIS_PREFIX.
  return parseConfig(AlertsProcessConfigSchema, env, (c) => redisLayoutProblem(c.REDIS_URL, c.REDIS_PREFIX));
}
