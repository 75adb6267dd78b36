/**
 * Heap snapshot (.heapsnapshot) → self size and count per kind of object, and the difference
 * between two snapshots: which objects a batch of connections added. Objects are grouped by
 * constructor name; closures by function name; strings, code and V8's internal arrays by kind.
 */
import { readFileSync } from 'node:fs';

export interface HeapGroup {
  count: number;
  bytes: number;
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export function summarizeHeap(path: string): Map<string, HeapGroup> {
  const snap = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const groups = new Map<string, HeapGroup>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt] as number] ?? '?';
    const name = snap.strings[snap.nodes[i + nameAt] as number] ?? '?';
    let key: string;
    if (type === 'object' || type === 'native') key = name;
    else if (type === 'closure') key = `closure ${name || '(anonymous)'}`;
    else if (type === 'hidden' || type === 'array' || type === 'object shape') key = `(${type}) ${name}`;
    else key = `(${type})`; // strings, numbers, code, regexps, synthetic roots
    const g = groups.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += snap.nodes[i + sizeAt] as number;
    groups.set(key, g);
  }
  return groups;
}

/** Groups that grew from `before` to `after`, largest growth first. */
export function heapGrowth(
  before: Map<string, HeapGroup>,
  after: Map<string, HeapGroup>,
): { key: string; count: number; bytes: number }[] {
  const rows = [];
  for (const [key, a] of after) {
    const b = before.get(key) ?? { count: 0, bytes: 0 };
    if (a.bytes > b.bytes) rows.push({ key, count: a.count - b.count, bytes: a.bytes - b.bytes });
  }
  return rows.sort((x, y) => y.bytes - x.bytes);
}
