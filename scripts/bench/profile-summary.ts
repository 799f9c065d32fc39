// Summarizes a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time, and the
// self time per package/area (node_modules/<pkg>, the hub's own folders, node internals, GC).
//
//   node scripts/bench/profile-summary.ts <file.cpuprofile> [top=30] [inclusive-regex...]
//   (TH_PROFILE_WINDOW=fromEndMs,toEndMs keeps the samples of that part of the profile only)

import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: an npm package, a hub folder, node internals, or V8 itself. */
function area(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const own = /\/work\/[^/]+\/((?:src|sensors)\/[^/]+)/.exec(url) ?? /\/((?:src|sensors)\/[^/]+)/.exec(url);
  if (own) return own[1]!;
  return url.replace(/^file:\/\//, '');
}

/** A part of a profile, in ms before its end (a profile from --cpu-prof ends when the process exits). */
export interface ProfileWindow {
  fromEndMs: number;
  toEndMs: number;
}

/** Sample index → its time in µs before the end of the profile. */
function sampleTimes(profile: Profile): Float64Array {
  const times = new Float64Array(profile.samples.length);
  let t = profile.startTime;
  for (let i = 0; i < times.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    times[i] = profile.endTime - t;
  }
  return times;
}

export function summarizeProfile(file: string, top = 30, window?: ProfileWindow): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  const beforeEnd = sampleTimes(profile);
  for (let i = 0; i < profile.samples.length; i++) {
    if (window && (beforeEnd[i]! > window.fromEndMs * 1000 || beforeEnd[i]! < window.toEndMs * 1000))
      continue;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  let idle = 0;
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    const where = url
      ? `${url.replace(/^file:\/\/.*?node_modules\//, '').replace(/^file:\/\//, '')}:${lineNumber + 1}`
      : '';
    const key = `${functionName || '(anonymous)'} ${where}`.trim();
    functions.set(key, (functions.get(key) ?? 0) + us);
    const a = area(url, functionName);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  const lines = [
    ...(window
      ? [
          `window: ${(window.fromEndMs / 1000).toFixed(1)} s to ${(window.toEndMs / 1000).toFixed(1)} s before the profile's end`,
        ]
      : []),
    `profiled ${(total / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(1)} s (idle ${(idle / 1e6).toFixed(1)} s); shares of busy time`,
    '',
    'self time by area:',
  ];
  for (const [name, us] of [...areas].sort((a, b) => b[1] - a[1]).slice(0, 25))
    lines.push(`  ${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}`);
  lines.push('', `top ${top} functions by self time:`);
  for (const [name, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top))
    lines.push(`  ${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}`);
  return lines.join('\n');
}

/** Total (inclusive) time of the frames whose function or url matches, for "how much does X cost" questions. */
export function inclusiveTime(file: string, match: RegExp, window?: ProfileWindow): number {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const beforeEnd = sampleTimes(profile);
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  let us = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    if (window && (beforeEnd[i]! > window.fromEndMs * 1000 || beforeEnd[i]! < window.toEndMs * 1000))
      continue;
    for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id)) {
      const { functionName, url } = byId.get(id)!.callFrame;
      if (match.test(`${functionName} ${url}`)) {
        us += profile.timeDeltas[i] ?? 0;
        break;
      }
    }
  }
  return us;
}

if (import.meta.main) {
  const [file, top, ...patterns] = process.argv.slice(2);
  if (!file) {
    console.error('usage: profile-summary.ts <file.cpuprofile> [top=30] [inclusive-regex...]');
    process.exit(2);
  }
  const [fromEndMs, toEndMs] = (process.env.TH_PROFILE_WINDOW ?? '').split(',').map(Number);
  const window =
    fromEndMs !== undefined && toEndMs !== undefined && !Number.isNaN(fromEndMs) && !Number.isNaN(toEndMs)
      ? { fromEndMs, toEndMs }
      : undefined;
  console.log(summarizeProfile(file, Number(top ?? 30), window));
  for (const pattern of patterns)
    console.log(
      `inclusive ${pattern}: ${(inclusiveTime(file, new RegExp(pattern), window) / 1000).toFixed(0)} ms`,
    );
}
