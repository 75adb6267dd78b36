/**
 * What a device senses: 8 line inputs and the mains voltage. The voltage input is wired to
 * the utility feed, so with line 1 ("CEB") off the ADC reads 0.0, as in the field.
 */
import type { Random } from './random.js';

export interface SimDevice {
  readonly name: string;
  /** Boots the device (as if powered on). */
  start(): void;
  /** Stops everything; `graceful` sends DISCONNECT where the transport has one. */
  stop(graceful?: boolean): Promise<void>;
  setLine(line: number, powered: boolean): void;
  /** Override the supply voltage (sag/swell); `null` = back to normal. */
  setVoltage(volts: number | null): void;
  /** The device's own supply. Off = instantly silent (no DISCONNECT); on = reboot. */
  setPower(on: boolean): void;
  /** The 4G link. Down = silent while still running. */
  setLink(up: boolean): void;
  readonly online: boolean;
}

export interface DeviceHooks {
  onOnline?(device: string, online: boolean): void;
}

/** A device came online or went offline: its stats' `connected` count and its onOnline hook follow. */
export function countOnline(stats: { connected: number }, hooks: DeviceHooks, name: string, online: boolean): void {
  if (online) stats.connected++;
  else stats.connected--;
  hooks.onOnline?.(name, online);
}

export class SensedState {
  readonly lines: boolean[] = [true, true, true, true, true, true, true, true];
  override: number | null = null;

  constructor(
    private readonly nominal: number,
    private readonly jitter: number,
    private readonly rnd: Random,
  ) {}

  volts(): number {
    if (!this.lines[0]) return 0;
    const base = this.override ?? this.nominal;
    return base + (this.rnd() * 2 - 1) * this.jitter;
  }
}
