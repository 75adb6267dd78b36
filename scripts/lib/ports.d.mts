/** Whether `port` can be listened on at `host` right now (default 0.0.0.0: every interface). */
export function portFree(port: number, host?: string): Promise<boolean>;
/** A port on `host` (default 127.0.0.1) that was free a moment ago. */
export function freePort(host?: string): Promise<number>;
