/** The simulator only ever talks to this machine: it is a load generator, not a scanner. */
export class TargetError extends Error {
  override name = 'TargetError';
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]|::1)$/;

export function parseLoopbackUrl(url: string, protocols: string[]): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TargetError(`not a URL: ${url}`);
  }
  if (!protocols.includes(u.protocol)) throw new TargetError(`${url}: expected ${protocols.join(' or ')}`);
  if (!LOOPBACK.test(u.hostname))
    throw new TargetError(`${url}: only loopback targets (127.0.0.0/8, localhost, ::1) are allowed`);
  return u;
}

/** `mqtt://127.0.0.1:1883` → host and port (default 1883). */
export function mqttTarget(url: string): { host: string; port: number } {
  const u = parseLoopbackUrl(url, ['mqtt:', 'tcp:']);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : 1883 };
}

/**
 * Source address for the i-th connection: spreading over 127.0.0.1..127.0.0.n gives each
 * address its own ~28k ephemeral ports, so 50k connections to one port do not run out.
 */
export function sourceAddress(i: number, count: number, host: string): string | undefined {
  if (count <= 1 || !host.startsWith('127.')) return undefined;
  return `127.0.0.${1 + (i % count)}`;
}
