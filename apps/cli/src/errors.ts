/** Exit codes: 1 the API refused the request, 2 bad usage, 3 the API could not be reached. */
export const EXIT = { OK: 0, API: 1, USAGE: 2, UNREACHABLE: 3 } as const;

export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.API,
    /** The API's HTTP status, when the API answered. */
    readonly status?: number,
  ) {
    super(message);
  }
}

export const usageError = (message: string) => new CliError(message, EXIT.USAGE);
