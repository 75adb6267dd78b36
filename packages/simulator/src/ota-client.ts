/**
 * ThingsBoard's OTA client, as its device SDKs run it (docs/firmware-protocol.md): on every
 * session the device reports what it runs (`current_fw_title`/`current_fw_version`), asks
 * for the `fw_*` shared attributes (and listens for pushes); when they name another firmware
 * it downloads the image in chunks, verifies the checksum, reports
 * DOWNLOADING → DOWNLOADED → VERIFIED → UPDATING, reboots into the new version and reports
 * UPDATED from it — or FAILED with `fw_error`.
 *
 * The transport (MQTT topics or HTTP routes) is an `OtaLink` the device gives per session,
 * so the same client runs on both. The partial image survives a dropped session, as a
 * device that writes chunks to its update partition: the next session resumes from the
 * last good chunk.
 *
 * Failure injection (`fail`): `checksum` flips a byte of the downloaded image (the device
 * sees a mismatch), `drop` cuts the connection once mid-download (then it resumes),
 * `no-return` never comes back after UPDATING, `report-failed` reports FAILED at once.
 */
export type OtaFailure = 'checksum' | 'drop' | 'no-return' | 'report-failed';
export const OTA_FAILURES: readonly OtaFailure[] = ['checksum', 'drop', 'no-return', 'report-failed'];

export const FW_SHARED_KEYS = ['fw_title', 'fw_version', 'fw_size', 'fw_checksum', 'fw_checksum_algorithm'] as const;

export interface OtaOptions {
  /** What the device runs at power-on. */
  title: string;
  version: string;
  /** Bytes asked per chunk (default 4096). */
  chunkSize?: number;
  fail?: OtaFailure;
  /** With `fail: 'drop'`: chunks received before the connection is cut (default 2). */
  dropAfterChunks?: number;
  /** How long to wait for a chunk before asking again (default 10 000 ms). */
  chunkTimeoutMs?: number;
  /** Requests per chunk before the update fails, as the Arduino SDK's 12 (default 12). */
  chunkAttempts?: number;
  /** Time "writing" the image between UPDATING and the reboot (default 200 ms). */
  installMs?: number;
  /** Called on every state the device reports. */
  onState?(state: string, error?: string): void;
}

export interface FirmwareTarget {
  title: string;
  version: string;
  size: number;
  checksum: string;
  algorithm: string;
}

/** What one session of the device offers the OTA client. */
export interface OtaLink {
  /** Telemetry from the device (fw_state, current_fw_*). */
  report(values: Record<string, string>): Promise<void>;
  /** The shared attributes named, as the server answers them (missing keys absent). */
  sharedAttributes(keys: readonly string[]): Promise<Record<string, unknown>>;
  /** Bytes [n × size, n × size + size) of the target; rejects when the session ends or it times out. */
  chunk(target: FirmwareTarget, n: number, size: number, timeoutMs: number): Promise<Buffer>;
  /** Cut the connection without a goodbye (failure injection); the device reconnects. */
  drop(): void;
  /** Reboot: reconnect running the new firmware, or (`comeBack: false`) go silent for good. */
  reboot(comeBack: boolean): void;
  /** The session ended: pending waits reject. */
  close?(): void;
}

const keyOf = (t: FirmwareTarget) => `${t.title}\u0000${t.version}\u0000${t.checksum}`;

export function targetFromAttributes(attrs: Record<string, unknown>): FirmwareTarget | null {
  const { fw_title: title, fw_version: version, fw_size: size, fw_checksum: checksum } = attrs;
  const algorithm = attrs.fw_checksum_algorithm;
  if (typeof title !== 'string' || typeof version !== 'string') return null;
  const n = typeof size === 'number' ? size : Number(size);
  if (!Number.isSafeInteger(n) || n < 0 || typeof checksum !== 'string' || typeof algorithm !== 'string') return null;
  return { title, version, size: n, checksum: checksum.toLowerCase(), algorithm: algorithm.toUpperCase() };
}

export class OtaClient {
  current: { title: string; version: string };
  /** The last state reported, for tests and the CLI summary. */
  state: string | undefined;
  private link: OtaLink | undefined;
  private session = 0;
  private target: FirmwareTarget | null = null;
  /** The image so far (the update partition), kept across sessions. */
  private partial: { key: string; parts: Buffer[] } | undefined;
  private downloading = false;
  /** Which download `downloading` is about (a changed target starts another). */
  private downloadSeq = 0;
  /** Targets that failed: not tried again until the target changes (as ThingsBoard's clients). */
  private readonly failed = new Set<string>();
  private justUpdated = false;
  private dropped = false;
  /** Chunks received in all, resumed downloads included (tests compare with the image's). */
  chunksReceived = 0;

  constructor(private readonly opts: OtaOptions) {
    this.current = { title: opts.title, version: opts.version };
  }

  /** A session is up: report what runs (UPDATED after a reboot into a new image), then ask. */
  onSession(link: OtaLink): void {
    const session = ++this.session;
    this.link = link;
    this.downloading = false;
    void (async () => {
      try {
        const running = { current_fw_title: this.current.title, current_fw_version: this.current.version };
        if (this.justUpdated) {
          this.justUpdated = false;
          await this.report(link, 'UPDATED', running);
        } else await link.report(running);
        const attrs = await link.sharedAttributes(FW_SHARED_KEYS);
        if (session === this.session) this.onTarget(targetFromAttributes(attrs));
      } catch {
        // The session ended: the next one starts over.
      }
    })();
  }

  /** Ask for the fw_* attributes again (HTTP devices poll: nothing is pushed to them). */
  async refresh(): Promise<void> {
    const link = this.link;
    const session = this.session;
    if (!link) return;
    try {
      const attrs = await link.sharedAttributes(FW_SHARED_KEYS);
      if (session === this.session) this.onTarget(targetFromAttributes(attrs));
    } catch {
      // Asked again at the next poll.
    }
  }

  onSessionEnd(): void {
    this.link?.close?.();
    this.session++;
    this.link = undefined;
    this.downloading = false;
  }

  /** A push on v1/devices/me/attributes (or a poll's answer). */
  onAttributes(attrs: Record<string, unknown>): void {
    const deleted = Array.isArray(attrs.deleted) && attrs.deleted.includes('fw_title');
    if (deleted) this.onTarget(null);
    else if ('fw_title' in attrs || 'fw_version' in attrs)
      this.onTarget(targetFromAttributes({ ...this.targetAttrs(), ...attrs }));
  }

  private targetAttrs(): Record<string, unknown> {
    const t = this.target;
    return t
      ? {
          fw_title: t.title,
          fw_version: t.version,
          fw_size: t.size,
          fw_checksum: t.checksum,
          fw_checksum_algorithm: t.algorithm,
        }
      : {};
  }

  private onTarget(target: FirmwareTarget | null): void {
    const changed = (target ? keyOf(target) : '') !== (this.target ? keyOf(this.target) : '');
    this.target = target;
    if (changed) this.downloading = false; // a running download of the old target stops at its next chunk
    if (!target || this.downloading || !this.link) return;
    if (target.title === this.current.title && target.version === this.current.version) return;
    if (this.failed.has(keyOf(target))) return;
    this.downloading = true;
    void this.download(this.link, this.session, target);
  }

  private async download(link: OtaLink, session: number, target: FirmwareTarget): Promise<void> {
    const key = keyOf(target);
    const seq = ++this.downloadSeq;
    const live = () => session === this.session && this.target !== null && keyOf(this.target) === key;
    const size = this.opts.chunkSize ?? 4096;
    try {
      if (this.opts.fail === 'report-failed') return await this.fail(link, key, 'simulated update failure');
      if (this.partial?.key !== key) this.partial = { key, parts: [] };
      const parts = this.partial.parts;
      await this.report(link, 'DOWNLOADING');
      const count = Math.ceil(target.size / size);
      while (parts.length < count) {
        if (!live()) return;
        if (this.opts.fail === 'drop' && !this.dropped && parts.length >= (this.opts.dropAfterChunks ?? 2)) {
          this.dropped = true;
          return link.drop();
        }
        const part = await this.fetch(link, target, parts.length, size);
        if (!live()) return;
        if (part === null) return await this.fail(link, key, `chunk ${parts.length} not received`);
        if (part.length === 0) break; // the end marker: a shorter image than fw_size said
        parts.push(part);
        this.chunksReceived++;
      }
      const image = Buffer.concat(parts);
      this.partial = undefined;
      await this.report(link, 'DOWNLOADED');
      if (this.opts.fail === 'checksum' && image.length > 0) image[0] = (image[0] ?? 0) ^ 0xff;
      const computed = await checksum(target.algorithm, image);
      if (computed !== target.checksum || image.length !== target.size)
        return await this.fail(link, key, `Checksum verification failed: expected ${target.checksum}, got ${computed}`);
      await this.report(link, 'VERIFIED');
      await this.report(link, 'UPDATING');
      await new Promise((r) => setTimeout(r, this.opts.installMs ?? 200));
      if (!live()) return;
      if (this.opts.fail === 'no-return') return link.reboot(false);
      this.current = { title: target.title, version: target.version };
      this.justUpdated = true;
      link.reboot(true);
    } catch (err) {
      // The server refused the download (v2/fw/error, an HTTP 4xx): the update failed.
      const message = (err as { fwError?: boolean; message?: string }).fwError ? (err as Error).message : undefined;
      if (message && live()) await this.fail(link, key, message).catch(() => undefined);
      // Otherwise the session ended mid-way: the partial image stays, the next session resumes.
    } finally {
      if (seq === this.downloadSeq) this.downloading = false;
    }
  }

  /** One chunk, asked again after a timeout; null after the last attempt. */
  private async fetch(link: OtaLink, target: FirmwareTarget, n: number, size: number): Promise<Buffer | null> {
    const attempts = this.opts.chunkAttempts ?? 12;
    for (let i = 0; i < attempts; i++) {
      try {
        return await link.chunk(target, n, size, this.opts.chunkTimeoutMs ?? 10_000);
      } catch (err) {
        if ((err as { timeout?: boolean }).timeout !== true) throw err;
      }
    }
    return null;
  }

  private async fail(link: OtaLink, key: string, error: string): Promise<void> {
    this.failed.add(key);
    this.partial = undefined;
    await this.report(link, 'FAILED', { fw_error: error });
  }

  private async report(link: OtaLink, state: string, extra: Record<string, string> = {}): Promise<void> {
    this.state = state;
    this.opts.onState?.(state, extra.fw_error);
    await link.report({
      fw_state: state,
      current_fw_title: this.current.title,
      current_fw_version: this.current.version,
      ...extra,
    });
  }
}

/** A chunk wait that ran out (asked again); any other rejection means the session ended. */
export class ChunkTimeout extends Error {
  readonly timeout = true;
}

/** The checksum as the server pushes it (CRC32 in ThingsBoard's byte order): @spms/firmware's. */
async function checksum(algorithm: string, image: Buffer): Promise<string> {
  // Loaded only when a device verifies an image: the rest of the simulator stays free of it.
  const { checksumOf, isChecksumAlgorithm } = await import('@spms/firmware');
  if (!isChecksumAlgorithm(algorithm)) return `unsupported algorithm ${algorithm}`;
  return checksumOf(algorithm, image);
}
