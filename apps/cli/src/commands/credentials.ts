/** spms credentials rotate|revoke <device> */
import type { Context } from '../context.js';
import { usageError } from '../errors.js';
import { onePositional, parseFlags } from '../flags.js';
import { printJson } from '../output.js';
import { credentialOptions, credentialsFromFlags } from './credential-flags.js';
import { type DeviceOut, describeCreds, formatIssued } from './device-format.js';

export async function credentialsCommand(ctx: Context, sub: string | undefined, args: string[]): Promise<void> {
  const { values, positionals } = parseFlags(args, sub === 'rotate' ? credentialOptions : {});
  const device = () => `api/devices/${encodeURIComponent(onePositional(positionals, 'device id or name'))}/credentials`;
  let d: DeviceOut;
  if (sub === 'rotate') {
    const body = credentialsFromFlags(values);
    if (!body)
      throw usageError(
        'say what the new credentials are: --token T, --client-id/--username/--password, or --type ACCESS_TOKEN|MQTT_BASIC to generate',
      );
    d = await ctx.client.request<DeviceOut>('POST', device(), { json: body });
  } else if (sub === 'revoke') {
    d = await ctx.client.request<DeviceOut>('DELETE', device());
  } else {
    throw usageError('usage: spms credentials rotate|revoke <device> [flags] (see spms --help)');
  }
  if (ctx.json) return printJson(ctx.io, d);
  ctx.io.out(
    `${d.name}: credentials ${sub === 'rotate' ? 'replaced' : 'revoked'}; now ${describeCreds(d.credentials)}`,
  );
  if (d.issuedCredentials) ctx.io.out(formatIssued(d.issuedCredentials));
}
