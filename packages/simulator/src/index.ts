export { formatDuration, parseDuration } from './duration.js';
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
export { type Scenario, ScenarioError, type ScenarioEvent, type Target, validateScenario } from './scenario.js';
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
