/**
 * Calls for firmware images and staged rollouts (pages/firmware.tsx, pages/rollouts.tsx,
 * pages/rollout-detail.tsx, the device page's firmware section), typed from the API's
 * OpenAPI document.
 */

import { ApiError, getSession, json, request, setSession } from './client.js';
import type { paths } from './generated/schema.js';
import type { Answer, Body, Item } from './types.js';

export type FirmwareRow = Item<'/api/firmware/'>;
export type FirmwareDetail = Answer<'/api/firmware/{id}'>;
export type ChecksumAlgorithm = FirmwareRow['checksumAlgorithm'];
export type UploadQuery = NonNullable<paths['/api/firmware/']['post']['parameters']['query']>;
export type RolloutRow = Item<'/api/rollouts/'>;
export type RolloutDetail = Answer<'/api/rollouts/{id}'>;
export type RolloutStatus = RolloutRow['status'];
export type RolloutCounts = RolloutRow['counts'];
export type WaveView = RolloutDetail['perWave'][number];
export type RolloutDevice = RolloutDetail['perDevice']['items'][number];
export type NewRollout = Body<'/api/rollouts/', 'post'>;

export const ALGORITHMS: readonly ChecksumAlgorithm[] = ['SHA256', 'SHA384', 'SHA512', 'MD5', 'CRC32'];
/**
 * The rollout device states, in the order a device goes through them (a filter's options;
 * the API's enum is the same list, @spms/firmware's ROLLOUT_DEVICE_STATES: the browser bundle
 * takes only types from the API, so a state the API does not know is a compile error here).
 */
export const DEVICE_STATES = [
  'pending',
  'assigned',
  'downloading',
  'updated',
  'failed',
  'skipped',
  'cancelled',
] as const satisfies readonly RolloutDevice['state'][];
export type DeviceState = (typeof DEVICE_STATES)[number];

const enc = encodeURIComponent;
const qs = (q: Record<string, string | number | undefined>) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
};

export const firmwareList = async () => (await json<Answer<'/api/firmware/'>>('GET', '/api/firmware?limit=500')).items;
export const firmwareDetail = (id: string) => json<FirmwareDetail>('GET', `/api/firmware/${enc(id)}`);
export const deleteFirmware = (id: string) =>
  json<Answer<'/api/firmware/{id}', 'delete'>>('DELETE', `/api/firmware/${enc(id)}`);

/**
 * POST /api/firmware with the file as the raw `application/octet-stream` body: the browser
 * streams a File from disk, so the page never holds the image (only a computed checksum
 * reads it). Errors carry the API's message (e.g. the checksum mismatch with both values).
 */
export async function uploadFirmware(q: UploadQuery, file: Blob): Promise<Answer<'/api/firmware/', 'post', 201>> {
  const session = getSession();
  const res = await fetch(`/api/firmware${qs({ ...q })}`, {
    method: 'POST',
    headers: {
      accept: 'application/json',
      'content-type': 'application/octet-stream',
      ...(session ? { authorization: `Bearer ${session.token}` } : {}),
    },
    body: file,
  });
  if (res.ok) return (await res.json()) as Answer<'/api/firmware/', 'post', 201>;
  let message = `${res.status} ${res.statusText}`;
  try {
    const err = (await res.json()) as { message?: string };
    if (err.message) message = err.message;
  } catch {}
  if (res.status === 401 && session) setSession(null);
  throw new ApiError(res.status, message);
}

/** Fetches the image with the bearer token and hands it to the browser as a download. */
export async function downloadFirmware(f: Pick<FirmwareRow, 'id' | 'title' | 'version'>): Promise<void> {
  const res = await request('GET', `/api/firmware/${enc(f.id)}/image`);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = `${f.title}-${f.version}.bin`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export const rollouts = async () => (await json<Answer<'/api/rollouts/'>>('GET', '/api/rollouts?limit=200')).items;
export const rollout = (id: string, q: { wave?: number; state?: string; limit?: number; offset?: number }) =>
  json<RolloutDetail>('GET', `/api/rollouts/${enc(id)}${qs(q)}`);
export const createRollout = (body: NewRollout) =>
  json<Answer<'/api/rollouts/', 'post', 201>>('POST', '/api/rollouts', body);
export const rolloutAction = (id: string, action: 'pause' | 'resume' | 'cancel') =>
  json<Answer<'/api/rollouts/{id}/pause', 'post'>>('POST', `/api/rollouts/${enc(id)}/${action}`);

/** How often a running or paused rollout is read again (the event stream has no rollout events). */
export const POLL_MS = 3000;

/** A running or paused rollout still changes (in-flight devices finish while it is paused). */
export const unfinished = (s: RolloutStatus) => s === 'running' || s === 'paused';
