/**
 * Stand-ins for the providers, for tests and benchmarks only (`@spms/sms/fakes`): a fake
 * Twilio REST API and a fake SMPP SMSC on loopback. Not exported from the package's index,
 * so production code cannot reach them by accident.
 */
export {
  FAKE_SMSC_CREDENTIALS,
  type FakeSmsc,
  type FakeSmscReply,
  type FakeSubmit,
  startFakeSmsc,
} from './fake-smsc.js';
export { type FakeTwilio, type FakeTwilioReply, type FakeTwilioRequest, startFakeTwilio } from './fake-twilio.js';
