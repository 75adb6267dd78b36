/**
 * Password verification off the connection path, first come first served.
 *
 * scrypt in node:crypto runs on libuv's thread pool (UV_THREADPOOL_SIZE, default 4), which
 * is also where DNS look-ups and file work go, and whose queue has no bound. Handing it a
 * storm of cold checks at once would (a) occupy every pool thread and every core, starving
 * the event loop that answers cache hits, and (b) queue without limit, so a device that
 * arrived first could wait behind thousands. Here at most `concurrency` checks run at once;
 * the others wait in arrival order (FIFO), at most `maxQueue` of them, and only as long as
 * the expected wait (waiting checks × the recent time per check ÷ concurrency) stays under
 * `maxWaitMs` — beyond that a check is refused at once (`VerifyQueueFull`, the broker
 * answers CONNACK 0x03 and the device reboots and retries) instead of waiting longer than a
 * device waits for its CONNACK (on a starved machine a hash can take ten times its usual
 * 8 ms). A waiting check whose device has gone (its `aborted` flag is set) is dropped unhashed.
 */

/**
 * Whether the device a check is for has gone. An AbortSignal is one; the broker passes a
 * getter over the connection's state instead (no controller, listener or event per connect).
 */
export interface GoneFlag {
  readonly aborted: boolean;
}

export class VerifyQueueFull extends Error {
  override name = 'VerifyQueueFull';
}
export class VerifyAbandoned extends Error {
  override name = 'VerifyAbandoned';
}

export interface VerifierStats {
  /** Checks waiting for their turn now. */
  queued: number;
  /** Checks hashing now. */
  running: number;
  /** Checks refused because the queue was full. */
  queueFull: number;
  /** Waiting checks dropped because their device went away. */
  abandoned: number;
}

interface Job {
  run: () => Promise<boolean>;
  resolve: (ok: boolean) => void;
  reject: (err: Error) => void;
  signal: GoneFlag | undefined;
}

export class FairVerifier {
  private readonly waiting: Job[] = [];
  private head = 0;
  private running = 0;
  private queueFull = 0;
  private abandoned = 0;
  /** Recent time per check (ms, moving average); undefined until one has run. */
  private perCheckMs: number | undefined;

  constructor(
    private readonly concurrency: number,
    private readonly maxQueue: number,
    private readonly maxWaitMs = 0,
    /** Clock for the per-check time (tests). */
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(concurrency >= 1)) throw new Error('verifier concurrency must be at least 1');
  }

  /** Runs `check` when its turn comes; rejects with VerifyQueueFull or VerifyAbandoned. */
  run(check: () => Promise<boolean>, signal?: GoneFlag): Promise<boolean> {
    if (signal?.aborted) return Promise.reject(new VerifyAbandoned('device gone before verification'));
    const queued = this.waiting.length - this.head;
    const expectedWaitMs = ((queued + 1) * (this.perCheckMs ?? 0)) / this.concurrency;
    if (
      this.running >= this.concurrency &&
      (queued >= this.maxQueue || (this.maxWaitMs > 0 && expectedWaitMs > this.maxWaitMs))
    ) {
      this.queueFull++;
      return Promise.reject(new VerifyQueueFull('password verification queue full'));
    }
    return new Promise<boolean>((resolve, reject) => {
      this.waiting.push({ run: check, resolve, reject, signal });
      this.next();
    });
  }

  private next(): void {
    while (this.running < this.concurrency && this.head < this.waiting.length) {
      const job = this.waiting[this.head] as Job;
      this.waiting[this.head++] = undefined as unknown as Job;
      // Compact now and then, so the array does not grow with everything ever queued.
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.head);
        this.head = 0;
      }
      if (job.signal?.aborted) {
        this.abandoned++;
        job.reject(new VerifyAbandoned('device gone before verification'));
        continue;
      }
      this.running++;
      const started = this.now();
      // The slot is handed on before the caller hears the result, so a caller that queues a
      // new check right after its own finished finds the room it left.
      const done = () => {
        const ms = this.now() - started;
        this.perCheckMs = this.perCheckMs === undefined ? ms : this.perCheckMs * 0.8 + ms * 0.2;
        this.running--;
        this.next();
      };
      job.run().then(
        (ok) => {
          done();
          job.resolve(ok);
        },
        (err: Error) => {
          done();
          job.reject(err);
        },
      );
    }
  }

  stats(): VerifierStats {
    return {
      queued: this.waiting.length - this.head,
      running: this.running,
      queueFull: this.queueFull,
      abandoned: this.abandoned,
    };
  }
}
