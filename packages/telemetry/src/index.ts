export {
  createDeviceIngress,
  type DeviceIngress,
  type DeviceIngressOptions,
  type DeviceTransport,
  type IngressVerdict,
} from './ingress.js';
export { type Interpretation, interpretValues, LINE_COUNT, type LineReport } from './interpret.js';
export {
  checkTimestamp,
  checkValues,
  MAX_ARRAY_LENGTH,
  MAX_ENTRIES_PER_MESSAGE,
  MAX_FUTURE_SKEW_MS,
  MAX_KEY_LENGTH,
  MAX_KEYS_PER_OBJECT,
  MAX_STRING_LENGTH,
  MAX_VALUE_DEPTH,
  MIN_TS_MS,
} from './limits.js';
export { type ParseResult, parseLenientJson, parseTelemetry } from './parse.js';
export {
  type AttributesVerdict,
  acceptAttributes,
  acceptTelemetry,
  checkBatchEnvelope,
  checkEntryTimestamps,
  checkRequestBody,
  evaluateTelemetryPayload,
  type TelemetryVerdict,
  validateIngestMessage,
} from './validate-message.js';
