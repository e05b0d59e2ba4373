/**
 * Attack: under the platform's `partial` disclosure policy, read the platform's (host's) model
 * coefficients as the bank. The bank holds an admin token for its own node and, as in the lab, for
 * the coordinator, so it reads everything it can: the coordinator's job result and job list, the
 * CLI's `job report` (against the coordinator and its own node), its own node's job views, every file in its data directory, every row of its
 * database (job rows, models, audit chain) and every message it received (its inbox, decoded).
 * Each number found there is compared with each host coefficient, |x − w| ≤ 1e-9·max(1, |w|).
 *
 * Jobs: a real `lr` job and a real `scorecard` job with `policy: 'partial'`, on the FATE breast
 * data, between three nodes of this process (createNode, listening on 127.0.0.1 at ports the operating system has free). The
 * truth is the platform's own view of each job (its weights).
 *
 * Defended: stage reports carry counts only, so no host coefficient is anywhere the bank can read.
 * Undefended (`unsafe.reports: 'legacy'` with the legacy gate: the old stage reports, each node's
 * summary as a JSON string): every host coefficient reaches the bank through the coordinator.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unpack } from '../../protocols/codec.ts';
import type { JobView } from '../../server/cluster.ts';
import { TestNodes, TOKEN } from '../helpers/nodes.ts';

const CLI = new URL('../../server/cli.ts', import.meta.url).pathname;
const JOBS = ['lr-partial', 'sc-partial'] as const;

function jobSpec(id: (typeof JOBS)[number]) {
  return {
    id,
    pipeline: id === 'lr-partial' ? 'lr' : 'scorecard',
    coordinator: 'coordinator',
    guest: { node: 'bank-a', dataset: 'loans' },
    host: { node: 'platform', dataset: 'credit' },
    seed: '11',
    testFraction: 0.25,
    training: { maxIterations: 12, refuseUnconverged: false },
    ...(id === 'sc-partial' ? { scorecard: { policy: 'partial' } } : {}),
  };
}

/** Every number in a value: JSON, msgpack, typed arrays, and numbers written in text. */
function numbers(v: unknown, out: number[] = []): number[] {
  if (typeof v === 'number') out.push(v);
  else if (typeof v === 'string') {
    const t = v.trim();
    if ((t.startsWith('{') || t.startsWith('[')) && t.length > 1) {
      try {
        return numbers(JSON.parse(t) as unknown, out);
      } catch {
        /* text */
      }
    }
    for (const m of v.matchAll(/-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?/g)) out.push(Number(m[0]));
  } else if (v instanceof Uint8Array || v instanceof Buffer) {
    /* bytes (ciphertexts, blinded points, keys): no plaintext number to read */
  } else if (ArrayBuffer.isView(v)) {
    for (const x of Array.from(v as unknown as ArrayLike<number>)) out.push(Number(x));
  } else if (Array.isArray(v)) v.forEach((x) => numbers(x, out));
  else if (v && typeof v === 'object') Object.values(v).forEach((x) => numbers(x, out));
  return out;
}

/** Each host coefficient found among a source's numbers. */
function found(coefficients: readonly number[], source: readonly number[]): number[] {
  const xs = Float64Array.from(source.filter(Number.isFinite)).sort();
  return coefficients.filter((w) => {
    const tol = 1e-9 * Math.max(1, Math.abs(w));
    let lo = 0;
    let hi = xs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid]! < w - tol) lo = mid + 1;
      else hi = mid;
    }
    return lo < xs.length && Math.abs(xs[lo]! - w) <= tol;
  });
}

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => statSync(f).isFile() && !/node\.db(-wal|-shm)?$/.test(f));
}

interface Outcome {
  coefficients: number[];
  /** Control: the bank's own weights, and how many of them the same search finds in its own job views. */
  own: number;
  ownFound: number;
  /** Source name → host coefficients found there. */
  sources: Map<string, number[]>;
}

async function run(t: TestNodes): Promise<Outcome> {
  await t.breast();
  const coefficients: number[] = [];
  for (const id of JOBS) {
    await t.admin('coordinator', 'POST', '/v1/admin/jobs', jobSpec(id));
    const j = await t.settle(id);
    expect(j.status, JSON.stringify(j.error)).toBe('completed');
    // The truth: the platform's own view of its weights.
    const own = await t.admin<JobView>('platform', 'GET', `/v1/admin/jobs/${id}`);
    const w = (own.progress as { training: { weights: number[] } }).training.weights;
    expect(w.length).toBeGreaterThan(1);
    coefficients.push(...w.filter((x) => x !== 0));
  }
  // Everything the bank can read.
  const read = new Map<string, unknown>();
  for (const id of JOBS) {
    read.set(`coordinator API GET /v1/admin/jobs/${id}`, await t.admin('coordinator', 'GET', `/v1/admin/jobs/${id}`));
    read.set(`bank API GET /v1/admin/jobs/${id}`, await t.admin('bank-a', 'GET', `/v1/admin/jobs/${id}`));
    const cli = await promisify(execFile)(process.execPath, ['--import', 'tsx', CLI, 'job', 'report', id, '--url', t.node('coordinator').url], {
      env: { ...process.env, INDOMAIN_ADMIN_TOKEN: TOKEN },
    });
    read.set(`CLI job report ${id}`, cli.stdout);
    const status = await promisify(execFile)(process.execPath, ['--import', 'tsx', CLI, 'job', 'status', id, '--url', t.node('coordinator').url], {
      env: { ...process.env, INDOMAIN_ADMIN_TOKEN: TOKEN },
    });
    read.set(`CLI job status ${id}`, status.stdout);
    const own = await promisify(execFile)(process.execPath, ['--import', 'tsx', CLI, 'job', 'report', id, '--url', t.node('bank-a').url], {
      env: { ...process.env, INDOMAIN_ADMIN_TOKEN: TOKEN },
    });
    read.set(`CLI job report ${id} on the bank's node`, own.stdout);
  }
  read.set('coordinator API GET /v1/admin/jobs', await t.admin('coordinator', 'GET', '/v1/admin/jobs'));
  read.set('bank API GET /v1/admin/jobs', await t.admin('bank-a', 'GET', '/v1/admin/jobs'));
  const bank = t.node('bank-a').dir;
  for (const f of files(bank)) read.set(`bank file ${relative(bank, f)}`, readFileSync(f, 'utf8'));
  const db = new Database(join(bank, 'node.db'), { readonly: true });
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
    for (const table of tables) {
      const rows = db.prepare(`SELECT * FROM "${table}"`).all() as Record<string, unknown>[];
      // Message bodies (inbox: what the bank received; outbox: what it sent) decoded from msgpack.
      const decoded = rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === 'bytes' && (table === 'inbox' || table === 'outbox') && v instanceof Buffer ? unpack(new Uint8Array(v)) : v])));
      read.set(table === 'inbox' ? 'bank DB inbox: every message received, decoded' : `bank DB table ${table}`, decoded);
    }
  } finally {
    db.close();
  }
  const sources = new Map([...read].map(([k, v]) => [k, found(coefficients, numbers(v))]));
  const own: number[] = [];
  for (const id of JOBS) {
    const view = read.get(`bank API GET /v1/admin/jobs/${id}`) as JobView;
    own.push(...(view.progress as { training: { weights: number[] } }).training.weights.filter((x) => x !== 0));
  }
  const ownFound = found(own, numbers(JOBS.map((id) => read.get(`bank API GET /v1/admin/jobs/${id}`)))).length;
  return { coefficients, own: own.length, ownFound, sources };
}

function describeOutcome(o: Outcome): string {
  const all = new Set([...o.sources.values()].flat());
  const where = [...o.sources].filter(([, f]) => f.length > 0).map(([k, f]) => `${k} (${new Set(f).size})`);
  return `${all.size} of ${o.coefficients.length} host coefficients found in ${o.sources.size} bank-visible sources${where.length ? `: ${where.join('; ')}` : ''} (control: ${o.ownFound} of ${o.own} bank weights found in the bank's own job views)`;
}

describe('attack: reading the platform coefficients as the bank under the `partial` policy', () => {
  let on: Outcome;
  let off: Outcome;
  const started: TestNodes[] = [];

  beforeAll(async () => {
    const defended = await TestNodes.start();
    started.push(defended);
    on = await run(defended);
    const open = await TestNodes.start({ gate: 'legacy', reports: 'legacy' });
    started.push(open);
    off = await run(open);
    process.stdout.write(`partial coefficients\n  on:  ${describeOutcome(on)}\n  off: ${describeOutcome(off)}\n`);
  }, 600_000);
  afterAll(async () => {
    for (const t of started) await t.close();
  });

  it('defended: no host coefficient in anything the bank can read', () => {
    expect(on.coefficients.length).toBeGreaterThan(20);
    expect(on.sources.size).toBeGreaterThan(20);
    // The search finds what is there: the bank's own weights, in its own view of the jobs.
    expect(on.ownFound).toBe(on.own);
    expect([...on.sources].filter(([, f]) => f.length > 0).map(([k]) => k)).toEqual([]);
  });

  it('undefended (legacy stage reports): every host coefficient reaches the bank through the coordinator', () => {
    const all = new Set([...off.sources.values()].flat());
    expect(all.size).toBe(off.coefficients.length);
    for (const id of JOBS) {
      expect(off.sources.get(`coordinator API GET /v1/admin/jobs/${id}`)!.length).toBeGreaterThan(0);
      expect(off.sources.get(`CLI job report ${id}`)!.length).toBeGreaterThan(0);
    }
    expect(new Set(off.sources.get('coordinator API GET /v1/admin/jobs')).size).toBe(off.coefficients.length);
  });
});
