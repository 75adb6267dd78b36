export {
  accessTokenKey,
  basicLookupKeys,
  type CredentialsInput,
  type CredentialsLookup,
  CredentialsValidationError,
  credentialsKey,
  MIN_ACCESS_TOKEN_LENGTH,
  MIN_BASIC_PASSWORD_LENGTH,
  type StoredCredentials,
  shortSecretProblems,
  validateCredentials,
} from './matching.js';
export { generateCredentials, generateSecret, hashSecret, verifySecret } from './secrets.js';
