/** spms rpc … in-process against the real API listening on a free port (the device stays offline). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExpiration } from './commands/rpc.js';
import { run } from './run.js';
import { type ListeningApi, startListeningApi } from './test-support/listening-api.js';

const ADMIN_KEY = 'cli-rpc-admin-key-0123456789abcdef';

let api: ListeningApi;
let url: string;

beforeAll(async () => {
  api = await startListeningApi('cli_rpc', ADMIN_KEY);
  ({ url } = api);
});

afterAll(async () => {
  await api?.close();
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

describe('spms rpc', () => {
  it('queues a persistent RPC, lists and shows it, cancels it', async () => {
    expect((await spms(['devices', 'create', 'CLI_RPC_1'])).code).toBe(0);
    const sent = await spms([
      'rpc',
      'send',
      'CLI_RPC_1',
      'setInterval',
      '{"s":30}',
      '--persistent',
      '--expiration',
      '2h',
      '--retries',
      '2',
      '--timeout',
      '5000',
      '--info',
      '{"ticket":"T-1"}',
    ]);
    expect(sent.code, sent.err).toBe(0);
    const rpcId = /queued RPC ([0-9a-f-]{36})/.exec(sent.out)?.[1] as string;
    expect(rpcId).toBeTruthy();
    const list = await spms(['rpc', 'list', 'CLI_RPC_1']);
    expect(list.out).toContain(rpcId);
    expect(list.out).toMatch(/setInterval\s+QUEUED\s+0\/3/);
    const shown = await spms(['rpc', 'show', rpcId, '--json']);
    expect(JSON.parse(shown.out)).toMatchObject({
      status: 'QUEUED',
      params: { s: 30 },
      retries: 2,
      timeoutMs: 5000,
      additionalInfo: { ticket: 'T-1' },
    });
    expect((await spms(['rpc', 'cancel', rpcId])).out).toContain('cancelled RPC');
    expect((await spms(['rpc', 'list', 'CLI_RPC_1', '--status', 'cancelled', '--json'])).out).toContain(rpcId);
  });

  it('refuses bad usage before calling the API', async () => {
    expect((await spms(['rpc', 'send', 'X', 'm', '{bad'])).code).toBe(2);
    expect((await spms(['rpc', 'send', 'X', 'm', '--retries', '1'])).err).toMatch(/need --persistent/);
    expect((await spms(['rpc', 'send', 'X', 'm', '--persistent', '--expiration', 'soon'])).code).toBe(2);
    expect(parseExpiration('30m', 1000)).toBe(1000 + 1_800_000);
    expect(parseExpiration('2026-12-03T00:00:00Z')).toBe(Date.UTC(2026, 11, 3));
  });
});
