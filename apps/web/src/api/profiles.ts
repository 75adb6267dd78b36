/**
 * Calls for device profiles (pages/profiles.tsx) and device claiming (the device page's
 * claim form), typed from the API's OpenAPI document.
 */
import { getSession, isAdmin, json } from './client.js';
import type { Answer, Body } from './types.js';

export type ProfileRow = Answer<'/api/profiles/'>[number];
export type Provisioning = NonNullable<ProfileRow['provisioning']>;
export type Strategy = Provisioning['strategy'];
export type ProfilePatch = Body<'/api/profiles/{idOrName}', 'patch'>;
export type ClaimBody = Body<'/api/devices/{idOrName}/claim', 'post'>;

/** The API's provisioning strategies (a strategy it does not know is a compile error here). */
export const STRATEGIES = [
  ['disabled', 'Disabled'],
  ['allow_create', 'Allow creating new devices'],
  ['pre_provisioned', 'Pre-provisioned devices only'],
] as const satisfies readonly (readonly [Strategy, string])[];

const enc = encodeURIComponent;

export const profiles = () => json<Answer<'/api/profiles/'>>('GET', '/api/profiles');
export const updateProfile = (idOrName: string, body: ProfilePatch) =>
  json<Answer<'/api/profiles/{idOrName}', 'patch'>>('PATCH', `/api/profiles/${enc(idOrName)}`, body);

/**
 * What the API lets the signed-in principal do to profiles: writes need role operator and no
 * region/customer scope (a profile is fleet-wide; apps/api/src/routes/profiles/index.ts).
 */
export const canEditProfiles = () => {
  const user = getSession()?.user;
  return (user?.role === 'operator' || isAdmin()) && !user?.scope;
};

export const claimDevice = (idOrName: string, body: ClaimBody) =>
  json<Answer<'/api/devices/{idOrName}/claim', 'post'>>('POST', `/api/devices/${enc(idOrName)}/claim`, body);
