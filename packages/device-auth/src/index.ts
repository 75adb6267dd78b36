export {
  type AuthResult,
  createDeviceAuthenticator,
  type DeviceAuthenticator,
  type DeviceAuthenticatorOptions,
  type DeviceIdentity,
} from './authenticator.js';
export { type ConnectInput, type CredentialsRow, checkMqttRow, isIdentifierRejected } from './rules.js';
