/** The error body every operator route may answer with (see plugins/errors.ts). */
import { Type } from 'typebox';

export const ErrorBody = Type.Object({
  error: Type.String({ description: 'machine-readable code, e.g. CONFLICT' }),
  message: Type.String({ description: 'what went wrong and what to fix' }),
  details: Type.Optional(Type.Unknown()),
});

/** 4xx answers shared by the authenticated routes. */
export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
} as const;

interface SchemaError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/**
 * Validation messages that say what to fix: the field as a dotted path, the unknown
 * property's name (Ajv's own message omits it) and the allowed values of an enum.
 * The error handler prefixes "invalid <part>: ".
 */
export function formatSchemaErrors(errors: SchemaError[], dataVar: string): Error {
  const text = errors.map((e) => {
    const field = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : dataVar;
    if (e.keyword === 'additionalProperties') return `${field}: unknown field "${String(e.params.additionalProperty)}"`;
    if (e.keyword === 'enum' && Array.isArray(e.params.allowedValues))
      return `${field}: must be one of ${e.params.allowedValues.join(', ')}`;
    return `${field}: ${e.message ?? 'is invalid'}`;
  });
  return new Error(text.join('; '));
}
