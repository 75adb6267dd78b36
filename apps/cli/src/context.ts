import type { ApiClient } from './http.js';
import type { Io } from './output.js';

export interface Context {
  client: ApiClient;
  io: Io;
  /** --json: machine-readable output. */
  json: boolean;
}
