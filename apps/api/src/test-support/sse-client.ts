/**
 * A minimal EventSource for tests over real HTTP: parses frames as they arrive and waits
 * (bounded polling) for conditions. Test-only (excluded from the build).
 */
import { request } from 'node:http';

export interface Sse {
  events: { id?: string; event?: string; data?: string }[];
  comments: string[];
  status: number;
  /** The server ended the response. */
  ended: boolean;
  close(): void;
  waitFor(pred: (s: Sse) => boolean, ms?: number): Promise<void>;
}

/** Opens a stream; resolves once the response headers arrived. */
export function connect(url: string, headers: Record<string, string> = {}): Promise<Sse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const s: Sse = {
        events: [],
        comments: [],
        status: res.statusCode ?? 0,
        ended: false,
        close: () => req.destroy(),
        waitFor: (pred, ms = 5000) =>
          new Promise((ok, fail) => {
            const started = Date.now();
            const tick = () => {
              if (pred(s)) return ok();
              if (Date.now() - started > ms) return fail(new Error(`timed out; got ${JSON.stringify(s.events)}`));
              setTimeout(tick, 10);
            };
            tick();
          }),
      };
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i = buf.indexOf('\n\n');
        while (i >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const e: Sse['events'][number] = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) s.comments.push(line.slice(1).trim());
            else {
              const [k, ...v] = line.split(': ');
              if (k === 'id' || k === 'event' || k === 'data') e[k] = v.join(': ');
            }
          }
          if (e.event) s.events.push(e);
          i = buf.indexOf('\n\n');
        }
      });
      res.on('end', () => {
        s.ended = true;
      });
      res.on('error', () => {});
      resolve(s);
    });
    req.on('error', reject);
    req.end();
  });
}
