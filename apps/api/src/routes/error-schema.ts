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
