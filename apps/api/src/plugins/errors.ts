/**
 * One error type with a code → status table. The handler logs context and never sends a
 * 5xx message, a stack trace or SQL to the client.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../core/errors.js';

export const errorsPlugin = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((err: FastifyError | AppError, req, reply) => {
      if (err instanceof AppError) {
        if (err.statusCode >= 500) req.log.error({ err }, err.message);
        return reply
          .status(err.statusCode)
          .send({ error: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) });
      }
      const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
      if (err.validation) {
        return reply.status(400).send({
          error: 'BAD_REQUEST',
          message: `invalid ${err.validationContext ?? 'request'}: ${err.message}`,
        });
      }
      if (status < 500) {
        return reply.status(status).send({ error: err.code ?? 'BAD_REQUEST', message: err.message });
      }
      req.log.error({ err }, 'request failed');
      return reply.status(status).send({ error: 'INTERNAL', message: 'internal error; see the server log' });
    });
    app.setNotFoundHandler((req, reply) =>
      reply.status(404).send({ error: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` }),
    );
  },
  { name: 'errors' },
);
