/** A small HTTP client for the SPMS operator API (Bearer API key, JSON or CSV bodies). */
import { CliError, EXIT } from './errors.js';

export interface ApiClientOptions {
  baseUrl: string;
  apiKey: string | undefined;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  json?: unknown;
  csv?: string;
  /** A body sent as it is read (a firmware image): never held whole. */
  stream?: { body: ReadableStream<Uint8Array>; contentType: string; length?: number };
}

export class ApiClient {
  constructor(private readonly opts: ApiClientOptions) {}

  async request<T = unknown>(method: string, path: string, req: RequestOptions = {}): Promise<T> {
    if (!this.opts.apiKey) throw new CliError('SPMS_API_KEY is not set: export SPMS_API_KEY=<api key>', EXIT.USAGE);
    const url = new URL(path, this.opts.baseUrl.endsWith('/') ? this.opts.baseUrl : `${this.opts.baseUrl}/`);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { authorization: `Bearer ${this.opts.apiKey}`, accept: 'application/json' };
    let body: string | ReadableStream<Uint8Array> | undefined;
    if (req.stream) {
      headers['content-type'] = req.stream.contentType;
      if (req.stream.length !== undefined) headers['content-length'] = String(req.stream.length);
      body = req.stream.body;
    } else if (req.csv !== undefined) {
      headers['content-type'] = 'text/csv';
      body = req.csv;
    } else if (req.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(req.json);
    }
    let res: Response;
    try {
      // duplex: a streamed request body (Node's fetch requires it for one).
      res = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        ...(req.stream ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        `cannot reach the SPMS API at ${this.opts.baseUrl} (${cause?.code ?? cause?.message ?? String(err)}); check SPMS_API_URL`,
        EXIT.UNREACHABLE,
      );
    }
    const text = await res.text();
    const parsed = text ? safeJson(text) : undefined;
    if (!res.ok) throw new CliError(describeFailure(res.status, parsed, text), EXIT.API, res.status);
    return parsed as T;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

interface ErrorBody {
  error?: string;
  message?: string;
  details?: { errors?: { row?: number; column?: string; field?: string; message: string }[] };
}

function describeFailure(status: number, body: unknown, text: string): string {
  const b = (body ?? {}) as ErrorBody;
  const lines = [`HTTP ${status}${b.error ? ` ${b.error}` : ''}: ${b.message ?? (text.slice(0, 200) || 'no message')}`];
  // The import lists every bad row; show them all, one per line.
  const errors = b.details?.errors ?? [];
  if (errors.length > 5)
    for (const e of errors)
      lines.push(`  ${e.row !== undefined ? `row ${e.row}, ` : ''}${e.column ?? e.field ?? ''}: ${e.message}`);
  if (status === 401) lines.push('  (check SPMS_API_KEY)');
  return lines.join('\n');
}
