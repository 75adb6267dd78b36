/**
 * A self-signed certificate for `localhost` in a temporary folder (Debian's openssl), for
 * tests that start the broker's TLS listener; `remove()` deletes the folder.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface TestCertificate {
  /** PEM certificate path (also the CA a client trusts). */
  cert: string;
  key: string;
  /** The broker settings of a TLS listener on a free port with this certificate. */
  env: { MQTTS_PORT: string; MQTT_TLS_CERT: string; MQTT_TLS_KEY: string };
  remove(): void;
}

export async function selfSignedCertificate(prefix: string): Promise<TestCertificate> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await promisify(execFile)('openssl', [
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost'],
    ...['-keyout', key, '-out', cert],
  ]);
  return {
    cert,
    key,
    env: { MQTTS_PORT: '0', MQTT_TLS_CERT: cert, MQTT_TLS_KEY: key },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
