/**
 * Progress of `spms import thingsboard`, phase by phase (devices listed, devices and their
 * credentials, history by device): on a terminal a bar per phase (cli-progress) with the
 * rate and the time left; otherwise (a pipe, a file, CI) plain lines, at most one per
 * `intervalMs` and phase plus one when the phase ends, so a log stays short and readable.
 */
import cliProgress from 'cli-progress';

export interface Phase {
  /** Known once the first page or plan says so; null: counted without a total. */
  setTotal(total: number | null): void;
  /** Adds `n` done; `detail` is shown with it (e.g. the device being read). */
  tick(n?: number, detail?: string): void;
  /** Ends the phase with a summary line. */
  done(summary: string): void;
}

export interface Progress {
  phase(name: string, unit: string, total: number | null): Phase;
  /** A line between bars (a warning, a resumed device). */
  log(line: string): void;
}

export interface ProgressOptions {
  /** Where plain lines go (the CLI's stderr). */
  write: (line: string) => void;
  /** A terminal to draw bars on; null: plain lines. */
  tty: NodeJS.WriteStream | null;
  now?: () => number;
  /** Plain form: shortest time between two lines of one phase. */
  intervalMs?: number;
}

/** e.g. 75 → "1m15s", 3725 → "1h02m", 12 → "12s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const rateText = (n: number, seconds: number) => (seconds > 0 ? (n / seconds).toFixed(1) : '0.0');

export function createProgress(opts: ProgressOptions): Progress {
  const now = opts.now ?? Date.now;
  const interval = opts.intervalMs ?? 5000;
  if (opts.tty) return barProgress(opts.tty, now);
  return {
    log: opts.write,
    phase(name, unit, initialTotal) {
      const started = now();
      let total = initialTotal;
      let value = 0;
      let lastLine = Number.NEGATIVE_INFINITY;
      const line = (detail?: string) => {
        const secs = (now() - started) / 1000;
        const rate = rateText(value, secs);
        const of =
          total === null
            ? `${value} ${unit}`
            : `${value}/${total} ${unit} (${Math.floor((100 * value) / Math.max(total, 1))}%)`;
        const eta =
          total !== null && value > 0 && value < total
            ? `, ETA ${formatDuration(((total - value) * secs) / value)}`
            : '';
        return `${name}: ${of}, ${rate} ${unit}/s${eta}${detail ? ` — ${detail}` : ''}`;
      };
      opts.write(`${name}: started${total === null ? '' : ` (${total} ${unit})`}`);
      return {
        setTotal(t) {
          total = t;
        },
        tick(n = 1, detail) {
          value += n;
          if (now() - lastLine < interval) return;
          lastLine = now();
          opts.write(line(detail));
        },
        done(summary) {
          opts.write(`${name}: done in ${formatDuration((now() - started) / 1000)} — ${summary}`);
        },
      };
    },
  };
}

function barProgress(stream: NodeJS.WriteStream, now: () => number): Progress {
  let current: cliProgress.SingleBar | null = null;
  return {
    log(line) {
      // Above the bar: clear its line, print, let the bar redraw below.
      if (current) stream.write('\r\x1b[2K');
      stream.write(`${line}\n`);
      current?.render();
    },
    phase(name, unit, initialTotal) {
      const started = now();
      let value = 0;
      const bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${name.padEnd(11)} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted} | {detail}`,
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 50,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(initialTotal ?? 0, 0, { rate: '0.0', detail: '' });
      current = bar;
      return {
        setTotal(t) {
          bar.setTotal(t ?? 0);
        },
        tick(n = 1, detail) {
          value += n;
          bar.update(value, { rate: rateText(value, (now() - started) / 1000), detail: detail ?? '' });
        },
        done(summary) {
          bar.stop();
          current = null;
          stream.write(`${name}: done in ${formatDuration((now() - started) / 1000)} — ${summary}\n`);
        },
      };
    },
  };
}
