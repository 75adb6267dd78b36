import { describe, expect, it } from 'vitest';
import { assessDurability, describeDurabilityRefusal } from './durability-assess.js';

const ok = { appendonly: 'yes', appendfsync: 'always', maxmemoryPolicy: 'noeviction' };

describe('assessDurability', () => {
  it('AOF with fsync always and noeviction is durable, with nothing to note', () => {
    expect(assessDurability(ok)).toEqual({ durable: true, problems: [], notes: [] });
  });

  it('everysec is durable with a note about the last second', () => {
    const a = assessDurability({ ...ok, appendfsync: 'everysec' });
    expect(a.durable).toBe(true);
    expect(a.notes.join()).toMatch(/1 s/);
  });

  it('no AOF (RDB only or nothing) is not durable and says how to fix it', () => {
    const a = assessDurability({ ...ok, appendonly: 'no' });
    expect(a.durable).toBe(false);
    expect(a.problems).toHaveLength(1);
    expect(a.problems[0]).toMatch(/appendonly yes/);
  });

  it('appendfsync no is weak: not durable', () => {
    const a = assessDurability({ ...ok, appendfsync: 'no' });
    expect(a.durable).toBe(false);
    expect(a.problems[0]).toMatch(/appendfsync everysec or always/);
  });

  it('any eviction policy other than noeviction can drop queue keys', () => {
    for (const p of ['allkeys-lru', 'volatile-lru', 'allkeys-random', 'volatile-ttl']) {
      const a = assessDurability({ ...ok, maxmemoryPolicy: p });
      expect(a.durable).toBe(false);
      expect(a.problems[0]).toContain(p);
    }
  });

  it('settings that could not be read are reported as unknown, never as durable', () => {
    const a = assessDurability({ appendonly: null, appendfsync: null, maxmemoryPolicy: null });
    expect(a.durable).toBe(false);
    expect(a.problems.join('\n')).toMatch(/appendonly unknown[\s\S]*maxmemory-policy unknown/);
    // INFO gives aof_enabled and maxmemory_policy but not appendfsync: a note only.
    const b = assessDurability({ appendonly: 'yes', appendfsync: null, maxmemoryPolicy: 'noeviction' });
    expect(b.durable).toBe(true);
    expect(b.notes.join()).toMatch(/appendfsync unknown/);
  });

  it('lists every problem at once, and the refusal names the variable and the settings', () => {
    const a = assessDurability({ appendonly: 'no', appendfsync: 'everysec', maxmemoryPolicy: 'allkeys-lru' });
    expect(a.problems).toHaveLength(2);
    const msg = describeDurabilityRefusal(a);
    expect(msg).toMatch(/REQUIRE_DURABLE_REDIS/);
    expect(msg).toMatch(/appendonly yes/);
    expect(msg).toMatch(/noeviction/);
  });
});
