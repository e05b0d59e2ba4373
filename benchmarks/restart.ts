/**
 * `npm run bench -- restart [--repetitions 3] [--json OUT.json]`: the CPU a node process spends
 * from its start until it serves and falls idle, for the node program compiled by
 * server/node-bundle.ts (how nodes run) and for the same sources through tsx's loader, started
 * alternately in the same run on a platform with an empty database. CPU (user + system, from
 * /proc), not wall time: the machine's load stretches the one, hardly the other. A restart after
 * completed jobs costs what a bare start costs (tests/server/restart-cost.test.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../server/cluster.ts';

/** utime + stime of a process, seconds (/proc/PID/stat fields 14 and 15, in clock ticks of 1/100 s). */
export function processCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** The process's CPU once it used none over a second (four quarter-second looks), seconds. */
export async function cpuUntilIdle(pid: number): Promise<number> {
  let last = processCpu(pid);
  for (let still = 0; still < 4; ) {
    await new Promise((r) => setTimeout(r, 250));
    const now = processCpu(pid);
    still = now === last ? still + 1 : 0;
    last = now;
  }
  return last;
}

export interface RestartBenchOptions {
  readonly repetitions: number;
  readonly json?: string;
  readonly log?: (line: string) => void;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function restartBench(o: RestartBenchOptions): Promise<Record<string, unknown>> {
  const runs: Record<'compiled' | 'tsx', { served: number; idle: number; wallMs: number }[]> = { compiled: [], tsx: [] };
  const dir = mkdtempSync(join(tmpdir(), 'indomain-bench-restart-'));
  try {
    for (let i = 0; i < o.repetitions; i++) {
      for (const program of ['compiled', 'tsx'] as const) {
        const c = new Cluster(join(dir, `${program}-${i}`), [{ name: 'platform', role: 'platform', port: 0 }], { program });
        const t0 = Date.now();
        await c.start('platform');
        const wallMs = Date.now() - t0;
        const pid = c.pid('platform')!;
        const served = processCpu(pid);
        const idle = await cpuUntilIdle(pid);
        await c.stop();
        runs[program].push({ served, idle, wallMs });
        o.log?.(`${program} #${i + 1}: CPU ${served.toFixed(2)} s when serving, ${idle.toFixed(2)} s when idle; ${wallMs} ms to serve`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const summary = (p: 'compiled' | 'tsx') => ({ cpuWhenIdleSeconds: median(runs[p].map((r) => r.idle)), cpuWhenServingSeconds: median(runs[p].map((r) => r.served)), wallToServeMs: median(runs[p].map((r) => r.wallMs)), runs: runs[p] });
  const compiled = summary('compiled');
  const tsx = summary('tsx');
  const result = { suite: 'restart', node: process.version, repetitions: o.repetitions, compiled, tsx, cpuRatioTsxToCompiled: tsx.cpuWhenIdleSeconds / compiled.cpuWhenIdleSeconds };
  if (o.json) writeFileSync(o.json, JSON.stringify(result, null, 2));
  return result;
}
