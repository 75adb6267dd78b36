export {
  type FirmwareTargetChange,
  firmwareAttributesPayload,
  type PushSummary,
  pushFirmwareAttributes,
  refreshFirmwareTargets,
  setDeviceFirmware,
  setProfileFirmware,
} from './assign.js';
export {
  FIRMWARE_ATTRIBUTE_KEYS,
  FIRMWARE_STATES,
  type FirmwareMeta,
  type FirmwareState,
  firmwareAttributes,
  isFirmwareState,
} from './attributes.js';
export {
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  type Checksummer,
  checksumOf,
  crc32Hex,
  crc32Matches,
  createChecksum,
  isChecksumAlgorithm,
  normaliseChecksum,
} from './checksum.js';
export { READ_BLOCK, readImage } from './image.js';
export {
  decide,
  FINISHED,
  IN_FLIGHT,
  planWaves,
  ROLLOUT_DEVICE_STATES,
  ROLLOUT_STATUSES,
  type RolloutDeviceState,
  type RolloutDeviceView,
  type RolloutStatus,
  type RolloutView,
  successTimeoutMs,
  type TickDecision,
  wavesProblem,
} from './rollout.js';
export { getFirmware, readChunk, targetFirmware } from './store.js';
export {
  checksumFormatProblem,
  deleteFirmware,
  FIRMWARE_COLUMNS,
  FirmwareError,
  type FirmwareErrorCode,
  type FirmwareRecord,
  type FirmwareRow,
  toFirmwareRecord,
  type UploadRequest,
  uploadFirmware,
} from './upload.js';
