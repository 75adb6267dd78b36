/** Summarizes a V8 .cpuprofile: self time by function and by package (share of busy time), for the benchmark report. */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export function summarizeProfile(path: string, top = 15): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as { nodes: ProfileNode[] };
  // Share of *busy* time: the profile spans the whole run, idle phases included.
  const isIdle = (n: ProfileNode) => n.callFrame.functionName === '(idle)';
  const total = profile.nodes.reduce((s, n) => s + (isIdle(n) ? 0 : (n.hitCount ?? 0)), 0) || 1;
  const byFn = new Map<string, number>();
  const byPkg = new Map<string, number>();
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    if (!hits || isIdle(n)) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const file = url.replace(/^file:\/\//, '');
    const pkg =
      /node_modules\/((@[^/]+\/)?[^/]+)/.exec(file)?.[1] ??
      (file.includes('/packages/')
        ? `@spms/${file.split('/packages/')[1]?.split('/')[0]}`
        : file.includes('/apps/broker/')
          ? 'apps/broker'
          : file
            ? 'node internals'
            : functionName || '(native)');
    const fn = `${functionName || '(anonymous)'} ${file.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + hits);
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + hits);
  }
  const pct = (h: number) => `${((100 * h) / total).toFixed(1).padStart(5)} %`;
  const rows = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, h]) => `  ${pct(h)}  ${k}`)
      .join('\n');
  return `by package:\n${rows(byPkg, 10)}\nby function:\n${rows(byFn, top)}`;
}
