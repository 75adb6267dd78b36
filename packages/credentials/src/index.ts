export {
  accessTokenKey,
  basicLookupKeys,
  type CredentialsInput,
  type CredentialsLookup,
  CredentialsValidationError,
  credentialsKey,
  type StoredCredentials,
  validateCredentials,
} from './matching.js';
export { generateCredentials, generateSecret, hashSecret, verifySecret } from './secrets.js';
