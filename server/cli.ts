/**
 * The `indomain` command line. Every failure prints its code and message, never a stack trace.
 *
 *   indomain lab [--serve] [--out lab-output] [--enterprises 50000] [--banks 2] [--loans 10000] [--seed 42] [--port 7600]
 *   indomain coordinator --name N --port P --data DIR --peers PEERS.json [--data-root DIR] [limits: server/README.md]
 *   indomain node --role platform|bank --name N --port P --data DIR --peers PEERS.json [--data-root DIR]
 *   indomain job create SPEC.json --url COORDINATOR_URL      (admin token: INDOMAIN_ADMIN_TOKEN)
 *   indomain job status|report|cancel ID --url COORDINATOR_URL
 *   indomain bench <suite> …                                  (see benchmarks/cli.ts)
 *   indomain audit verify [--keys KEYS.json] [--anchor ANCHOR.json] DIR...   (lab output or node data directories)
 *   indomain audit anchor --keys KEYS.json --out ANCHOR.json [--url NODE_URL]... [DIR...]
 *   indomain score MODEL ID [--features JSON] --url BANK_URL  (online federated scoring)
 *   indomain monitor MODEL DATASET --url BANK_URL [--drop 20] [--threshold 0.1]
 *   indomain alerts [MODEL] --url BANK_URL
 *   indomain console regulator --records DIR… --keys FILE [--port 7700]   (the regulator's own console)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { IndomainError } from '../engine/errors.ts';
import { isMain } from '../engine/main.ts';
import { benchMain, reportFailure } from '../benchmarks/cli.ts';
import { NODE_V8_FLAGS, startNode } from './main.ts';
import { nodeBundle } from './node-bundle.ts';
import { audit } from './audit-cli.ts';
import { DEFAULT_LAB, runLab } from './lab/run.ts';
import { serveRegulator } from './regulator.ts';

const USAGE = `usage: indomain lab [--serve] [--out DIR] [--enterprises N] [--banks B] [--loans L] [--seed S] [--port P]
       indomain coordinator --name N --port P --data DIR --peers PEERS.json [--data-root DIR]
       indomain node --role platform|bank --name N --port P --data DIR --peers PEERS.json [--data-root DIR]
       indomain job create SPEC.json --url URL | job status|report|cancel ID --url URL
       indomain bench vfl|scorecard …
       indomain audit verify [--keys KEYS.json] [--anchor ANCHOR.json] DIR...
       indomain audit anchor --keys KEYS.json --out ANCHOR.json [--url NODE_URL]... [DIR...]
       indomain score MODEL ID [--features JSON] --url BANK_URL
       indomain monitor MODEL DATASET --url BANK_URL [--drop 20] [--threshold 0.1]
       indomain alerts [MODEL] --url BANK_URL
       indomain console regulator --records DIR [--records DIR…] --keys FILE [--port 7700] [--host H]`;

function bar(fraction: number, width = 24): string {
  const n = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(n)}${'-'.repeat(width - n)}]`;
}

async function admin(url: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Record<string, unknown>> {
  const token = process.env.INDOMAIN_ADMIN_TOKEN;
  if (!token) throw new IndomainError('CLI_BAD_ARGS', 'set INDOMAIN_ADMIN_TOKEN to the node admin token');
  let r: Response;
  try {
    r = await fetch(`${url.replace(/\/$/, '')}${path}`, {
      method,
      headers: { 'x-admin-token': token, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (e) {
    throw new IndomainError('SRV_PEER_UNREACHABLE', `${url}: ${(e as Error).message}`);
  }
  const j = (await r.json()) as Record<string, unknown>;
  if (!r.ok) throw new IndomainError((j.code as never) ?? 'SRV_INTERNAL', String(j.message ?? r.status));
  return j;
}

async function job(argv: string[]): Promise<void> {
  const [action, arg, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { url: { type: 'string', default: 'http://127.0.0.1:7600' }, watch: { type: 'boolean', default: false } }, strict: true });
  const url = values.url!;
  if (!arg) throw new IndomainError('CLI_BAD_ARGS', `job ${action ?? ''} needs an argument\n${USAGE}`);
  switch (action) {
    case 'create': {
      let spec: unknown;
      try {
        spec = JSON.parse(readFileSync(arg, 'utf8'));
      } catch (e) {
        throw new IndomainError('CLI_BAD_ARGS', `cannot read job spec ${arg}: ${(e as Error).message}`);
      }
      const j = await admin(url, 'POST', '/v1/admin/jobs', spec);
      process.stdout.write(`created job ${String(j.id)} (${String(j.status)})\n`);
      return;
    }
    case 'status': {
      for (;;) {
        const j = await admin(url, 'GET', `/v1/admin/jobs/${encodeURIComponent(arg)}`);
        const p = j.progress as { stageIndex?: number; stages?: string[]; trainingRound?: number | null; maxIterations?: number | null };
        const stages = p.stages ?? [];
        const frac = stages.length ? ((p.stageIndex ?? 0) + (j.status === 'completed' ? 1 : 0)) / stages.length : 0;
        const round = p.trainingRound !== null && p.trainingRound !== undefined ? ` round ${p.trainingRound}/${p.maxIterations}` : '';
        process.stdout.write(`${bar(frac)} ${String(j.id)} ${String(j.status)} ${String(j.stage)}${round}\n`);
        if (!values.watch || ['completed', 'failed', 'cancelled'].includes(String(j.status))) {
          if (j.error) process.stdout.write(`error ${JSON.stringify(j.error)}\n`);
          return;
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    case 'report': {
      const j = await admin(url, 'GET', `/v1/admin/jobs/${encodeURIComponent(arg)}`);
      // On the coordinator: the job's shared result (counts, timings, the bank's test metrics). On a
      // party's node: that party's own view (its progress holds its own weights and metrics).
      process.stdout.write(JSON.stringify({ id: j.id, status: j.status, result: j.result, progress: j.progress, error: j.error, traffic: j.traffic }, null, 2) + '\n');
      return;
    }
    case 'cancel': {
      const j = await admin(url, 'POST', `/v1/admin/jobs/${encodeURIComponent(arg)}/cancel`);
      process.stdout.write(`job ${String(j.id)}: ${String(j.status)}\n`);
      return;
    }
  }
  throw new IndomainError('CLI_BAD_ARGS', `unknown job action "${action ?? ''}"\n${USAGE}`);
}

async function lab(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      serve: { type: 'boolean', default: false },
      out: { type: 'string', default: 'lab-output' },
      enterprises: { type: 'string', default: String(DEFAULT_LAB.enterprises) },
      banks: { type: 'string', default: String(DEFAULT_LAB.banks) },
      loans: { type: 'string', default: String(DEFAULT_LAB.loans) },
      seed: { type: 'string', default: DEFAULT_LAB.seed },
      port: { type: 'string', default: '7600' },
    },
    strict: true,
  });
  const int = (k: 'enterprises' | 'banks' | 'loans' | 'port', min: number) => {
    const v = Number(values[k]);
    if (!Number.isInteger(v) || v < min) throw new IndomainError('CLI_BAD_ARGS', `--${k} must be an integer ≥ ${min}`);
    return v;
  };
  const s = await runLab({
    enterprises: int('enterprises', 1000),
    banks: int('banks', 1),
    loans: int('loans', 500),
    overlap: DEFAULT_LAB.overlap,
    seed: values.seed!,
    out: values.out!,
    serve: values.serve!,
    basePort: int('port', 1024),
    log: (l) => process.stderr.write(`${l}\n`),
  });
  const worse = s.banks.filter((b) => !(b.joint.testAuc > b.bankOnly.testAuc));
  if (worse.length) throw new IndomainError('SRV_JOB_FAILED', `the joint model does not beat the bank-only model for ${worse.map((b) => b.bank).join(', ')}`);
}

export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'lab':
      return lab(rest);
    case 'coordinator':
      return withNodeFlags(['--role', 'coordinator', ...rest]);
    case 'node':
      return withNodeFlags(rest);
    case 'job':
      return job(rest);
    case 'bench':
      return benchMain(rest);
    case 'score': {
      const { values, positionals } = parseArgs({ args: rest, options: { url: { type: 'string' }, features: { type: 'string', default: '{}' } }, allowPositionals: true, strict: true });
      if (positionals.length !== 2 || !values.url) throw new IndomainError('CLI_BAD_ARGS', USAGE);
      let features: unknown;
      try {
        features = JSON.parse(values.features!);
      } catch {
        throw new IndomainError('CLI_BAD_ARGS', '--features must be a JSON object');
      }
      const r = await admin(values.url, 'POST', '/v1/score', { model: positionals[0], id: positionals[1], features });
      process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      return;
    }
    case 'monitor': {
      const { values, positionals } = parseArgs({ args: rest, options: { url: { type: 'string' }, drop: { type: 'string', default: '20' }, threshold: { type: 'string', default: '0.1' } }, allowPositionals: true, strict: true });
      if (positionals.length !== 2 || !values.url) throw new IndomainError('CLI_BAD_ARGS', USAGE);
      process.stderr.write(`monitoring ${positionals[1]} with ${positionals[0]}…\n`);
      const r = await admin(values.url, 'POST', '/v1/admin/monitor', { model: positionals[0], dataset: positionals[1], dropPoints: Number(values.drop), stabilityThreshold: Number(values.threshold) });
      process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      return;
    }
    case 'alerts': {
      const { values, positionals } = parseArgs({ args: rest, options: { url: { type: 'string' } }, allowPositionals: true, strict: true });
      if (!values.url) throw new IndomainError('CLI_BAD_ARGS', USAGE);
      const list = (await admin(values.url, 'GET', `/v1/admin/alerts${positionals[0] ? `?model=${encodeURIComponent(positionals[0])}` : ''}`)) as unknown as { kind: string; enterprise: string | null; detail: unknown }[];
      for (const a of list) process.stdout.write(`${a.kind}\t${a.enterprise ?? '-'}\t${JSON.stringify(a.detail)}\n`);
      return;
    }
    case 'console': {
      const [kind, ...args] = rest;
      if (kind !== 'regulator') throw new IndomainError('CLI_BAD_ARGS', `usage: indomain console regulator --records DIR --keys FILE (each node serves its own console at /console/)`);
      await serveRegulator(args, (l) => process.stderr.write(`${l}\n`));
      return;
    }
    case 'audit':
      return audit(rest);
  }
  throw new IndomainError('CLI_BAD_ARGS', `unknown command "${cmd ?? ''}"\n${USAGE}`);
}

if (isMain(import.meta.url)) main(process.argv.slice(2)).catch((e: unknown) => reportFailure(e, USAGE));

/**
 * Run a node with {@link NODE_V8_FLAGS}: V8 takes heap flags only at start, so unless this process
 * has them, start the node as a child process that does (same terminal, signals passed on, its
 * exit code returned).
 */
async function withNodeFlags(args: string[]): Promise<void> {
  if (NODE_V8_FLAGS.every((f) => process.execArgv.includes(f))) return startNode(args);
  // The child runs the compiled node program (server/node-bundle.ts): no TypeScript loader in it.
  const child = spawn(process.execPath, [...NODE_V8_FLAGS, await nodeBundle(), ...args], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  const code = await new Promise<number>((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
  process.exitCode = code;
}
