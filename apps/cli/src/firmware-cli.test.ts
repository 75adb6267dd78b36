/** spms firmware … in-process against the real API listening on a free port. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './run.js';
import { type ListeningApi, startListeningApi } from './test-support/listening-api.js';

const ADMIN_KEY = 'cli-fw-admin-key-0123456789abcdef';

let api: ListeningApi;
let url: string;
let dir: string;

beforeAll(async () => {
  api = await startListeningApi('cli_fw', ADMIN_KEY, { FIRMWARE_MAX_BYTES: String(2 * 1024 * 1024) });
  ({ url } = api);
  dir = await mkdtemp(join(tmpdir(), 'spms-cli-fw-'));
});

afterAll(async () => {
  await api?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function spms(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(
    args,
    { SPMS_API_URL: url, SPMS_API_KEY: ADMIN_KEY },
    { out: (t) => out.push(t), err: (t) => err.push(t) },
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('spms firmware', () => {
  it('uploads (checksum computed or given), lists, shows, assigns and deletes', async () => {
    const image = randomBytes(1024 * 1024 + 17);
    const file = join(dir, 'fw.bin');
    await writeFile(file, image);

    const up = await spms(['firmware', 'upload', file, '--title', 'esp32', '--version', '2.0.0', '--json']);
    expect(up.code, up.err).toBe(0);
    const fw = JSON.parse(up.out);
    expect(fw).toMatchObject({ size: image.length, checksumAlgorithm: 'SHA256' });
    expect(fw.checksum).toBe(createHash('sha256').update(image).digest('hex'));

    const crc = await spms([
      'firmware',
      'upload',
      file,
      '--title',
      'esp32',
      '--version',
      '2.0.1',
      '--algorithm',
      'crc32',
    ]);
    expect(crc.code, crc.err).toBe(0);
    expect(crc.out).toMatch(/uploaded esp32 2\.0\.1 \(1048593 bytes\)/);

    const wrong = await spms([
      'firmware',
      'upload',
      file,
      '--title',
      'esp32',
      '--version',
      '2.0.2',
      '--algorithm',
      'MD5',
      '--checksum',
      '0'.repeat(32),
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/HTTP 400.*MD5 checksum mismatch: expected 0{32}, computed [0-9a-f]{32}/);

    const list = await spms(['firmware', 'list']);
    expect(list.out).toMatch(/esp32\s+2\.0\.0/);
    expect(list.out).not.toMatch(/2\.0\.2/);

    await spms(['devices', 'create', 'CLI-FW-1']);
    const assign = await spms(['firmware', 'assign', '--device', 'CLI-FW-1', fw.id]);
    expect(assign.code, assign.err).toBe(0);
    const prof = await spms(['firmware', 'assign', '--profile', 'SPMS', fw.id]);
    expect(prof.code, prof.err).toBe(0);
    const shown = await spms(['firmware', 'show', fw.id]);
    expect(shown.out).toMatch(/assigned:\s+profiles SPMS; devices 1 \(target of 1\)/);

    const inUse = await spms(['firmware', 'delete', fw.id]);
    expect(inUse.code).toBe(1);
    expect(inUse.err).toMatch(/HTTP 409/);
    await spms(['firmware', 'assign', '--device', 'CLI-FW-1', 'none']);
    await spms(['firmware', 'assign', '--profile', 'SPMS', 'none']);
    const del = await spms(['firmware', 'delete', fw.id]);
    expect(del.code, del.err).toBe(0);
    expect(del.out).toBe('deleted firmware esp32 2.0.0');
  });

  it('says what is wrong with the command line', async () => {
    expect((await spms(['firmware', 'upload', join(dir, 'missing.bin'), '--title', 't', '--version', '1'])).code).toBe(
      2,
    );
    expect((await spms(['firmware', 'upload', 'x'])).err).toMatch(/--title and --version/);
    expect((await spms(['firmware', 'assign', 'none'])).err).toMatch(/exactly one of --device/);
  });
});
