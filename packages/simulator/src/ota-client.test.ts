import { randomBytes } from 'node:crypto';
import { checksumOf } from '@spms/firmware';
import { describe, expect, it } from 'vitest';
import { type FirmwareTarget, OtaClient, type OtaLink, type OtaOptions } from './ota-client.js';

/**
 * An in-memory server for one image: answers the fw_* attributes and chunks as the broker does
 * (the chunk past the end is empty) and records what the device reported and did.
 */
function server(image: Buffer, algorithm: 'SHA256' | 'CRC32' = 'SHA256') {
  const attrs = {
    fw_title: 'cabinet',
    fw_version: '2.0.0',
    fw_size: image.length,
    fw_checksum: checksumOf(algorithm, image),
    fw_checksum_algorithm: algorithm,
  };
  const log = { reports: [] as Record<string, string>[], chunks: [] as number[], drops: 0, reboots: [] as boolean[] };
  const link = (): OtaLink => ({
    report: async (values) => {
      log.reports.push(values);
    },
    sharedAttributes: async () => attrs,
    chunk: async (_t: FirmwareTarget, n: number, size: number) => {
      log.chunks.push(n);
      return image.subarray(n * size, n * size + size);
    },
    drop: () => {
      log.drops++;
    },
    reboot: (comeBack) => {
      log.reboots.push(comeBack);
    },
  });
  return { attrs, log, link };
}

/** Runs sessions until the device settles (no reboot or drop pending). */
async function run(client: OtaClient, s: ReturnType<typeof server>, sessions = 1) {
  for (let i = 0; i < sessions; i++) {
    const before = s.log.reboots.length + s.log.drops;
    client.onSession(s.link());
    await expect
      .poll(() => s.log.reboots.length + s.log.drops > before || ['FAILED', 'UPDATED'].includes(client.state ?? ''))
      .toBe(true);
    client.onSessionEnd();
  }
}

const opts = (o: Partial<OtaOptions> = {}): OtaOptions => ({
  title: 'cabinet',
  version: '1.0.0',
  chunkSize: 1000,
  installMs: 1,
  ...o,
});

describe('OtaClient', () => {
  it('downloads in chunks, verifies, reboots and reports UPDATED from the new version', async () => {
    const s = server(randomBytes(3500));
    const client = new OtaClient(opts());
    await run(client, s, 2);
    expect(s.log.chunks).toEqual([0, 1, 2, 3]);
    expect(s.log.reboots).toEqual([true]);
    expect(s.log.reports.map((r) => r.fw_state ?? 'running')).toEqual([
      'running',
      'DOWNLOADING',
      'DOWNLOADED',
      'VERIFIED',
      'UPDATING',
      'UPDATED',
    ]);
    expect(s.log.reports.at(-1)).toMatchObject({ current_fw_title: 'cabinet', current_fw_version: '2.0.0' });
    expect(client.current.version).toBe('2.0.0');
  });

  it('checks a CRC32 in ThingsBoard byte order', async () => {
    const s = server(randomBytes(2048), 'CRC32');
    const client = new OtaClient(opts());
    await run(client, s, 2);
    expect(client.state).toBe('UPDATED');
  });

  it('a corrupted image is FAILED with fw_error and not tried again for the same target', async () => {
    const s = server(randomBytes(2500));
    const client = new OtaClient(opts({ fail: 'checksum' }));
    await run(client, s);
    expect(s.log.reports.at(-1)).toMatchObject({ fw_state: 'FAILED', current_fw_version: '1.0.0' });
    expect(s.log.reports.at(-1)?.fw_error).toMatch(/^Checksum verification failed/);
    const asked = s.log.chunks.length;
    client.onSession(s.link());
    await expect.poll(() => s.log.reports.length).toBe(5); // what it runs, and nothing more
    await new Promise((r) => setTimeout(r, 50));
    expect(s.log.chunks.length).toBe(asked);
    expect(s.log.reboots).toEqual([]);
  });

  it('drops once mid-download and resumes from the last good chunk', async () => {
    const s = server(randomBytes(5000));
    const client = new OtaClient(opts({ fail: 'drop', dropAfterChunks: 2 }));
    await run(client, s, 3);
    expect(s.log.drops).toBe(1);
    expect(s.log.chunks).toEqual([0, 1, 2, 3, 4]);
    expect(client.chunksReceived).toBe(5);
    expect(client.state).toBe('UPDATED');
  });

  it('no-return reboots without coming back; report-failed fails at once', async () => {
    const gone = server(randomBytes(1500));
    const a = new OtaClient(opts({ fail: 'no-return' }));
    await run(a, gone);
    expect(gone.log.reboots).toEqual([false]);
    expect(a.state).toBe('UPDATING');
    const refused = server(randomBytes(1500));
    const b = new OtaClient(opts({ fail: 'report-failed' }));
    await run(b, refused);
    expect(refused.log.chunks).toEqual([]);
    expect(refused.log.reports.at(-1)).toMatchObject({ fw_state: 'FAILED', fw_error: 'simulated update failure' });
  });

  it('does nothing when it already runs the target; a push of a new version starts the download', async () => {
    const s = server(randomBytes(1200));
    const client = new OtaClient(opts({ version: '2.0.0' }));
    client.onSession(s.link());
    await expect.poll(() => s.log.reports.length).toBe(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(s.log.chunks).toEqual([]);
    s.attrs.fw_version = '2.1.0';
    s.attrs.fw_checksum = checksumOf('SHA256', Buffer.alloc(0)); // it will not match: enough to see it start
    client.onAttributes({ fw_version: '2.1.0', fw_checksum: s.attrs.fw_checksum });
    await expect.poll(() => client.state).toBe('FAILED');
    expect(s.log.chunks).toEqual([0, 1]);
  });
});
