/** TypeBox schemas for /api/users and /api/auth. */
import { Type } from 'typebox';

/**
 * Nullable request fields as a JSON-Schema type array, not anyOf: the API's Ajv coerces
 * types, and inside anyOf it would coerce null into the first branch (see devices/schemas.ts).
 */
const NullableString = (opts: Record<string, unknown> = {}) =>
  Type.Unsafe<string | null>({ ...opts, type: ['string', 'null'] });

export const Role = Type.Enum(['admin', 'operator', 'viewer'], {
  description: 'admin: everything; operator: manage devices and planned interruptions; viewer: read only',
});
const ScopeList = (description: string) =>
  Type.Unsafe<string[] | null>({
    type: ['array', 'null'],
    items: { type: 'string', minLength: 1, maxLength: 200 },
    maxItems: 500,
    description,
  });
export const scopeProps = {
  regions: Type.Optional(ScopeList('regions this user may see; null = all')),
  customers: Type.Optional(ScopeList('customers this user may see; null = all')),
};
const Username = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._@-]+$' });
const Email = NullableString({ format: 'email', maxLength: 254 });
const Password = Type.String({ minLength: 10, maxLength: 256, description: 'at least 10 characters' });

export const User = Type.Object({
  id: Type.String({ format: 'uuid' }),
  username: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  displayName: Type.Union([Type.String(), Type.Null()]),
  role: Role,
  regions: Type.Union([Type.Array(Type.String()), Type.Null()]),
  customers: Type.Union([Type.Array(Type.String()), Type.Null()]),
  disabled: Type.Boolean(),
  hasPassword: Type.Boolean(),
  passwordChangedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastLoginAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

export const CreateUserBody = Type.Object(
  {
    username: Username,
    email: Type.Optional(Email),
    displayName: Type.Optional(NullableString({ maxLength: 200 })),
    password: Type.Optional(Password),
    role: Role,
    ...scopeProps,
    disabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const UpdateUserBody = Type.Object(
  {
    username: Type.Optional(Username),
    email: Type.Optional(Email),
    displayName: Type.Optional(NullableString({ maxLength: 200 })),
    role: Type.Optional(Role),
    ...scopeProps,
    disabled: Type.Optional(Type.Boolean({ description: 'true signs the user out everywhere' })),
  },
  { additionalProperties: false },
);

export const PasswordBody = Type.Object(
  { password: Password },
  { additionalProperties: false, description: 'sets a new password and ends all of the user’s sessions' },
);

export const UserParams = Type.Object({ idOrUsername: Type.String({ minLength: 1, maxLength: 100 }) });
export const ListUsersQuery = Type.Object(
  { role: Type.Optional(Role), disabled: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
