/** Calls for server-side RPC to a device (components/device-rpc.tsx): send, history, cancel. */
import { json } from './client.js';
import type { Answer, Body, Item } from './types.js';

export type RpcRow = Item<'/api/devices/{idOrName}/rpc'>;
export type RpcStatus = RpcRow['status'];
export type RpcRequest = Body<'/api/devices/{idOrName}/rpc', 'post'>;
/** 200 (answered, or persistent: stored) and 202 (oneway) have the same body. */
export type RpcSent = Answer<'/api/devices/{idOrName}/rpc', 'post'>;

/** States after which nothing more happens to an RPC. */
export const FINAL: readonly RpcStatus[] = ['SUCCESSFUL', 'TIMEOUT', 'EXPIRED', 'FAILED', 'CANCELLED'];
export const isFinal = (r: RpcRow) => FINAL.includes(r.status) || (r.oneway && r.status === 'DELIVERED');

const enc = encodeURIComponent;

export const sendRpc = (device: string, body: RpcRequest) =>
  json<RpcSent>('POST', `/api/devices/${enc(device)}/rpc`, body);
export const rpcHistory = (device: string, cursor: string | null, limit = 20) =>
  json<Answer<'/api/devices/{idOrName}/rpc'>>(
    'GET',
    `/api/devices/${enc(device)}/rpc?limit=${limit}${cursor ? `&cursor=${enc(cursor)}` : ''}`,
  );
export const cancelRpc = (rpcId: string) =>
  json<Answer<'/api/rpc/{rpcId}', 'delete'>>('DELETE', `/api/rpc/${enc(rpcId)}`);
