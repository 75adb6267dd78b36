import type { FastifyInstance } from 'fastify';

/** Placeholder: filled in by the issue that owns these routes. */
export default async function routes(_app: FastifyInstance): Promise<void> {}
