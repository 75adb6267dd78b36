/** The CLI as a function (argv, env, io) → exit code, so tests run it in-process. */
import { apiKeysCommand } from './commands/api-keys.js';
import { credentialsCommand } from './commands/credentials.js';
import { devicesCommand } from './commands/devices.js';
import { firmwareCommand } from './commands/firmware.js';
import { importCommand } from './commands/import-thingsboard.js';
import { profilesCommand } from './commands/profiles.js';
import { rolloutsCommand } from './commands/rollouts.js';
import { rpcCommand } from './commands/rpc.js';
import type { Context } from './context.js';
import { CliError, EXIT } from './errors.js';
import { HELP } from './help.js';
import { ApiClient } from './http.js';
import type { Io } from './output.js';

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

const GROUPS: Record<string, (ctx: Context, sub: string | undefined, args: string[]) => Promise<void>> = {
  devices: devicesCommand,
  device: devicesCommand,
  credentials: credentialsCommand,
  profiles: profilesCommand,
  profile: profilesCommand,
  'api-keys': apiKeysCommand,
  firmware: firmwareCommand,
  rollout: rolloutsCommand,
  rollouts: rolloutsCommand,
  import: importCommand,
  rpc: rpcCommand,
};

export const stdio: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

export async function run(argv: string[], env: Record<string, string | undefined>, io: Io = stdio): Promise<number> {
  const json = argv.includes('--json');
  const args = argv.filter((a) => a !== '--json');
  if (args.length === 0 || args.includes('--help') || args.includes('-h') || args[0] === 'help') {
    io.out(HELP);
    return args.length === 0 ? EXIT.USAGE : EXIT.OK;
  }
  const [group = '', sub, ...rest] = args;
  const command = GROUPS[group];
  if (!command) {
    io.err(`spms: unknown command "${group}"; try spms --help`);
    return EXIT.USAGE;
  }
  const client = new ApiClient({ baseUrl: env.SPMS_API_URL || DEFAULT_API_URL, apiKey: env.SPMS_API_KEY });
  try {
    await command({ client, io, json }, sub, rest);
    return EXIT.OK;
  } catch (err) {
    if (err instanceof CliError) {
      io.err(`spms: ${err.message}`);
      return err.exitCode;
    }
    io.err(`spms: unexpected error: ${(err as Error).stack ?? String(err)}`);
    return EXIT.API;
  }
}
