export {
  type AuthResult,
  createDeviceAuthenticator,
  type DeviceAuthenticator,
  type DeviceAuthenticatorOptions,
  type DeviceAuthStats,
  type DeviceIdentity,
  type GoneFlag,
  LOOKUP_SQL,
  type MqttAuthOptions,
} from './authenticator.js';
export {
  type BudgetVerdict,
  PROVISION_ADDRESS_BUCKET,
  PROVISION_CREATE_BUCKET,
  type ProvisionOptions,
  type ProvisionOrigin,
  type ProvisionOutcome,
  provisionDevice,
  recordClaim,
} from './provision-store.js';
export {
  claimRpcForSending,
  createPersistentRpc,
  markRpcDelivered,
  markRpcPending,
  type NewPersistentRpc,
  type PersistentRpc,
  persistentRpcCommand,
  queuedRpcs,
  RPC_COLUMNS,
  RPC_STATUSES,
  type RpcStatus,
  recordRpcResponse,
  requeueOnConnect,
  requeueRpcs,
} from './rpc-store.js';
export { type ConnectInput, type CredentialsRow, checkMqttRow, isIdentifierRejected } from './rules.js';
export { announceCredentialsChange, bumpCredentials, defineSharedAuthCommands } from './shared-cache.js';
