/**
 * The API's answers as TypeScript types, generated from its OpenAPI document (the routes'
 * TypeBox schemas) by `npm run openapi -w @spms/web`, which the build runs first: a field
 * renamed or removed in a route's response schema is a compile error wherever the dashboard
 * reads it. Paths are written as the document has them (a prefix's root route ends in `/`).
 *
 *   type Devices = Answer<'/api/devices/'>;                       // GET, 200
 *   type Created = Answer<'/api/users/', 'post', 201>;
 *   type Outage = Item<'/api/outages/'>;                          // one of `items`
 *   const list = () => json<Answer<'/api/recipients/'>>('GET', '/api/recipients');
 */
import type { paths } from './generated/schema.js';

export type ApiPath = keyof paths;
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
/** The methods a path has (the generated type marks the others `?: never`). */
export type MethodOf<P extends ApiPath> = {
  [M in Method]: [NonNullable<paths[P][M]>] extends [never] ? never : M;
}[Method];

type JsonOf<R> = R extends { content: { 'application/json': infer B } } ? B : never;
type ResponsesOf<P extends ApiPath, M extends MethodOf<P>> =
  NonNullable<paths[P][M]> extends { responses: infer R } ? R : never;

/** The JSON body of a `status` answer to `method path`. */
export type Answer<
  P extends ApiPath,
  M extends MethodOf<P> = 'get' & MethodOf<P>,
  S extends keyof ResponsesOf<P, M> = 200 & keyof ResponsesOf<P, M>,
> = JsonOf<ResponsesOf<P, M>[S]>;

/** One element of a list answer's `items`. */
export type Item<P extends ApiPath, M extends MethodOf<P> = 'get' & MethodOf<P>> =
  Answer<P, M> extends { items: (infer I)[] } ? I : never;

/** The JSON request body of `method path`. */
export type Body<P extends ApiPath, M extends MethodOf<P>> =
  NonNullable<paths[P][M]> extends {
    requestBody?: { content: { 'application/json': infer B } };
  }
    ? B
    : never;
