export { type Clock, createClock, realClock } from './clock.js';
export type { DeviceHooks, SimDevice } from './device-state.js';
export { formatDuration, parseDuration } from './duration.js';
export { demoFleetCsvUrl, demoFleetUrl, exampleScenarioUrl, readFleetFile, readScenarioFile } from './files.js';
export {
  type Behaviour,
  CSV_COLUMNS,
  DEFAULT_LINE_LABELS,
  type Fleet,
  type FleetCredentials,
  type FleetDevice,
  FleetError,
  fleetToCsv,
  type GenerateFleetOptions,
  generateFleet,
  type Transport,
  validateFleet,
} from './fleet.js';
export { createHttpDevice, type HttpDeviceOptions } from './http-device.js';
export { loadTestParallel } from './load-parallel.js';
export { type LoadTestOptions, type LoadTestResult, loadTest } from './load-test.js';
export { LeanMqttClient, type LeanMqttOptions, MqttConnectError } from './mqtt-client.js';
export { createMqttDevice, type MqttDeviceOptions, type MqttSimDevice } from './mqtt-device.js';
export {
  type FirmwareTarget,
  OTA_FAILURES,
  OtaClient,
  type OtaFailure,
  type OtaLink,
  type OtaOptions,
  targetFromAttributes,
} from './ota-client.js';
export { FirmwareServerError, httpOtaLink, mqttOtaLink, OTA_SUBSCRIPTIONS } from './ota-links.js';
export {
  chunkTimestamped,
  formatVolts,
  httpSnapshotBody,
  LINE_NUMBERS,
  type LineStates,
  mqttLinePayload,
  mqttVoltagePayload,
  TELEMETRY_TOPIC,
  type TimedValues,
  timestampedArrayPayload,
  timestampedPayload,
} from './payloads.js';
export {
  credentialsFromResponse,
  type ProvisionedCredentials,
  ProvisionRefused,
  type ProvisionRequest,
  provisionBody,
  provisionOverHttp,
  provisionOverMqtt,
} from './provision-client.js';
export {
  type HttpTiming,
  type MqttTiming,
  type RunResult,
  type RunScenarioOptions,
  runScenario,
} from './run-scenario.js';
export { type Scenario, ScenarioError, type ScenarioEvent, type Target, validateScenario } from './scenario.js';
export { LatencyHistogram, type RawHistogram, type RawStats, SimStats } from './stats.js';
export { mqttTarget, parseLoopbackUrl, sourceAddress, TargetError } from './targets.js';
export { type Change, expandScenario, resolveTarget, type TimelineEntry } from './timeline.js';
export {
  type AppliedChange,
  computeGroundTruth,
  type GroundTruth,
  plannedGroundTruth,
  type TruthInput,
  type TruthOffline,
  type TruthOutage,
  type TruthVoltage,
} from './truth.js';
