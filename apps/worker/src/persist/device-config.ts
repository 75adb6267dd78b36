/**
 * Per-device settings the worker needs (inactivity timeout, outage threshold, voltage
 * limits, line labels): device override, else the profile's value. Cached briefly, since
 * every batch needs them and they change rarely (an operator edit shows within the TTL).
 */
import type { Pool } from '@spms/db';

export interface LineConfig {
  number: number;
  label: string;
  enabled: boolean;
}

export interface DeviceConfig {
  id: string;
  timeoutMs: number;
  momentaryMs: number;
  voltageMin: number;
  voltageMax: number;
  hysteresis: number;
  lines: LineConfig[];
  /** Line labelled CEB (the utility feed), default line 1; line labelled MSAN, default 8. */
  utilityLine: number;
  siteLine: number;
}

const SQL = `
SELECT d.id::text AS id,
       COALESCE(d.inactivity_timeout_sec, p.inactivity_timeout_sec) AS timeout,
       COALESCE(d.momentary_threshold_sec, p.momentary_threshold_sec) AS momentary,
       COALESCE(d.voltage_min, p.voltage_min) AS vmin,
       COALESCE(d.voltage_max, p.voltage_max) AS vmax,
       p.voltage_hysteresis AS hyst,
       COALESCE((SELECT json_agg(json_build_object('number', l.number, 'label', l.label, 'enabled', l.enabled))
                   FROM device_lines l WHERE l.device_id = d.id), '[]'::json) AS lines
  FROM devices d JOIN device_profiles p ON p.id = d.profile_id
 WHERE d.id = ANY($1::uuid[])`;

interface Row {
  id: string;
  timeout: number;
  momentary: number;
  vmin: number;
  vmax: number;
  hyst: number;
  lines: LineConfig[];
}

function toConfig(r: Row): DeviceConfig {
  const byLabel = (label: string) => r.lines.find((l) => l.label.trim().toUpperCase() === label)?.number;
  return {
    id: r.id,
    timeoutMs: r.timeout * 1000,
    momentaryMs: r.momentary * 1000,
    voltageMin: r.vmin,
    voltageMax: r.vmax,
    hysteresis: r.hyst,
    lines: r.lines,
    utilityLine: byLabel('CEB') ?? 1,
    siteLine: byLabel('MSAN') ?? 8,
  };
}

export class DeviceConfigCache {
  private readonly cache = new Map<string, { at: number; config: DeviceConfig | null }>();
  constructor(
    private readonly pool: Pool,
    private readonly ttlMs: number,
  ) {}

  /** Settings of each known device; unknown (deleted) devices are absent from the map. */
  async get(ids: string[], now = Date.now()): Promise<Map<string, DeviceConfig>> {
    const out = new Map<string, DeviceConfig>();
    const missing: string[] = [];
    for (const id of ids) {
      const hit = this.cache.get(id);
      if (hit && now - hit.at < this.ttlMs) {
        if (hit.config) out.set(id, hit.config);
      } else missing.push(id);
    }
    if (missing.length > 0) {
      const { rows } = await this.pool.query<Row>(SQL, [missing]);
      const found = new Set<string>();
      for (const r of rows) {
        const c = toConfig(r);
        out.set(c.id, c);
        found.add(c.id);
        this.cache.set(c.id, { at: now, config: c });
      }
      for (const id of missing) if (!found.has(id)) this.cache.set(id, { at: now, config: null });
    }
    if (this.cache.size > 200_000) this.cache.clear();
    return out;
  }
}
