/**
 * ThingsBoard tells a device which firmware to run with five shared attributes; its OTA
 * client compares them with what it runs and downloads the image in chunks when they
 * differ. Clearing the target deletes them.
 */
import type { FirmwareRecord } from './upload.js';

export const FIRMWARE_ATTRIBUTE_KEYS = [
  'fw_title',
  'fw_version',
  'fw_size',
  'fw_checksum',
  'fw_checksum_algorithm',
] as const;

/** What a device's target names: the firmware's identity and checksum. */
export type FirmwareMeta = Pick<FirmwareRecord, 'id' | 'title' | 'version' | 'size' | 'checksum' | 'checksumAlgorithm'>;

export function firmwareAttributes(
  fw: FirmwareMeta,
): Record<(typeof FIRMWARE_ATTRIBUTE_KEYS)[number], string | number> {
  return {
    fw_title: fw.title,
    fw_version: fw.version,
    fw_size: fw.size,
    fw_checksum: fw.checksum,
    fw_checksum_algorithm: fw.checksumAlgorithm,
  };
}

/** ThingsBoard's fw_state values, in the order a successful update passes them. */
export const FIRMWARE_STATES = [
  'QUEUED',
  'INITIATED',
  'DOWNLOADING',
  'DOWNLOADED',
  'VERIFIED',
  'UPDATING',
  'UPDATED',
  'FAILED',
] as const;
export type FirmwareState = (typeof FIRMWARE_STATES)[number];

export const isFirmwareState = (s: unknown): s is FirmwareState =>
  typeof s === 'string' && (FIRMWARE_STATES as readonly string[]).includes(s);
