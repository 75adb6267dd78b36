export {
  type AuthResult,
  createDeviceAuthenticator,
  type DeviceAuthenticator,
  type DeviceAuthenticatorOptions,
  type DeviceAuthStats,
  type DeviceIdentity,
} from './authenticator.js';
export { type ConnectInput, type CredentialsRow, checkMqttRow, isIdentifierRejected } from './rules.js';
