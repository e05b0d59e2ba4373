/**
 * `npm run bench -- <suite> [options]`. Suites: `vfl`, `vfl-scale`, `scorecard`, `online`, `scoring`, `consortium`, `restart`. Errors print their code and
 * message, never a stack trace.
 */
import { parseArgs } from 'node:util';
import { IndomainError, isIndomainError } from '../engine/errors.ts';
import { isMain } from '../engine/main.ts';
import { scorecardBench } from './scorecard.ts';
import { vflBench, VFL_MODES, type VflMode } from './vfl.ts';
import { SHAPES, type Shape } from './shapes.ts';
import { vflScaleBench } from './vfl-scale.ts';
import { scoringBench } from './scoring.ts';
import { onlineBench } from './online.ts';
import { consortiumBench } from './consortium.ts';
import { restartBench } from './restart.ts';

const COMMON = '--guest G.csv --host H.csv --id ID_COLUMN --label LABEL_COLUMN [--seed 42] [--test-fraction 0.2]';
const USAGE = `usage: npm run bench -- vfl [${COMMON}] [--mode three-party|two-party|both] [--json OUT.json] [--scores-out SCORES.csv]
                      (no --guest/--host/--id/--label: FATE's default_credit pair from tests/data/fate)
       npm run bench -- vfl --shape ${SHAPES.join('|')} [--rows 12000] [--mode …] [--seed 42] [--json OUT.json]
       npm run bench -- vfl --uci UCI_Credit_Card.csv [--missing LIMIT_BAL:0.2] [--mode …] [--seed 42] [--json OUT.json]
       npm run bench -- vfl-scale [--rows 30000,100000,300000] [--host-features 10,100,300] [--max-rounds N]
                      [--event-rates 0.2,0.02] [--guest-features 5] [--json OUT.json]
       npm run bench -- online [--requests 10000] [--concurrency 64] [--port 7700] [--json OUT.json]
       npm run bench -- scoring [--rows 1000000] [--features 20] [--workers 2] [--json OUT.json]
       npm run bench -- restart [--repetitions 3] [--json OUT.json]
       npm run bench -- scorecard ${COMMON} [--mode three-party|two-party|both] [--json OUT.json] [--scores-out SCORES.csv]
                      [--pmml OUT.pmml] [--sql OUT.sql] [--report REPORT.md] [--reasons-out REASONS.csv]
                      [--policy full|partial] [--guest-categorical A,B] [--host-categorical C,D]
       npm run bench -- consortium --banks A.csv,B.csv[,…] [--host H.csv] --id ID_COLUMN --label LABEL_COLUMN
                      [--test T.csv | --test-fraction 0.2] [--seed 42] [--threshold t] [--drop K]
                      [--json OUT.json] [--scores-out SCORES.csv]`;

const OPTIONS = {
  guest: { type: 'string' },
  host: { type: 'string' },
  id: { type: 'string' },
  label: { type: 'string' },
  seed: { type: 'string', default: '42' },
  'test-fraction': { type: 'string', default: '0.2' },
  json: { type: 'string' },
  'scores-out': { type: 'string' },
  uci: { type: 'string' },
  missing: { type: 'string' },
  pmml: { type: 'string' },
  sql: { type: 'string' },
  report: { type: 'string' },
  'reasons-out': { type: 'string' },
  policy: { type: 'string', default: 'full' },
  'guest-categorical': { type: 'string', default: '' },
  'host-categorical': { type: 'string', default: '' },
  mode: { type: 'string' },
  shape: { type: 'string' },
  rows: { type: 'string' },
} as const;

/** `--mode` of the vfl and scorecard suites: which protocol to time (three-party by default), or both side by side. */
function vflMode(v: string | undefined): { mode?: VflMode } {
  if (v === undefined) return {};
  if (!(VFL_MODES as readonly string[]).includes(v)) throw new IndomainError('CLI_BAD_ARGS', `--mode must be one of ${VFL_MODES.join(', ')}, got "${v}"`);
  return { mode: v as VflMode };
}

const SCORECARD_ONLY = ['pmml', 'sql', 'report', 'reasons-out', 'guest-categorical', 'host-categorical'] as const;

export async function benchMain(argv: string[]): Promise<void> {
  const [suite, ...rest] = argv;
  if (suite === 'online') {
    const { values } = parseArgs({
      args: rest,
      options: { requests: { type: 'string', default: '10000' }, concurrency: { type: 'string', default: '64' }, port: { type: 'string', default: '7700' }, json: { type: 'string' } },
      strict: true,
    });
    const n = (k: 'requests' | 'concurrency' | 'port') => {
      const v = Number(values[k]);
      if (!Number.isInteger(v) || v < 1) throw new IndomainError('CLI_BAD_ARGS', `--${k} must be a positive integer`);
      return v;
    };
    const r = await onlineBench({ requests: n('requests'), concurrency: n('concurrency'), basePort: n('port'), ...(values.json ? { json: values.json } : {}), log: (l) => process.stderr.write(`${l}\n`) });
    const l = r.latencyMs as { p50: number; p99: number };
    process.stdout.write(`online: ${(r.requestsPerSecond as number).toFixed(0)} requests/s, p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, ${String(r.errors)} errors\n`);
    return;
  }
  if (suite === 'restart') {
    const { values } = parseArgs({ args: rest, options: { repetitions: { type: 'string', default: '3' }, json: { type: 'string' } }, strict: true });
    const repetitions = Number(values.repetitions);
    if (!Number.isInteger(repetitions) || repetitions < 1) throw new IndomainError('CLI_BAD_ARGS', '--repetitions must be a positive integer');
    const r = await restartBench({ repetitions, ...(values.json ? { json: values.json } : {}), log: (l) => process.stderr.write(`${l}\n`) });
    const c = r.compiled as { cpuWhenIdleSeconds: number };
    const t = r.tsx as { cpuWhenIdleSeconds: number };
    process.stdout.write(`restart: a node start costs ${c.cpuWhenIdleSeconds.toFixed(2)} s of CPU compiled, ${t.cpuWhenIdleSeconds.toFixed(2)} s through tsx (${(r.cpuRatioTsxToCompiled as number).toFixed(2)}x)\n`);
    return;
  }
  if (suite === 'scoring') {
    const { values } = parseArgs({
      args: rest,
      options: { rows: { type: 'string', default: '1000000' }, features: { type: 'string', default: '20' }, workers: { type: 'string', default: '2' }, repetitions: { type: 'string', default: '7' }, json: { type: 'string' } },
      strict: true,
    });
    const int = (k: 'rows' | 'features' | 'workers' | 'repetitions') => {
      const v = Number(values[k]);
      if (!Number.isInteger(v) || v < 1) throw new IndomainError('CLI_BAD_ARGS', `--${k} must be a positive integer`);
      return v;
    };
    const r = await scoringBench({ rows: int('rows'), features: int('features'), workers: int('workers'), repetitions: int('repetitions'), ...(values.json ? { json: values.json } : {}), log: (l) => process.stderr.write(`${l}\n`) });
    const s = r.singleThread as { rowsPerSecond: number };
    const p = r.pool as { rowsPerSecond: number; workers: number };
    process.stdout.write(`scoring: single thread ${(s.rowsPerSecond / 1e6).toFixed(2)}M rows/s, ${p.workers} workers ${(p.rowsPerSecond / 1e6).toFixed(2)}M rows/s\n`);
    return;
  }
  if (suite === 'consortium') {
    const { values } = parseArgs({
      args: rest,
      options: {
        banks: { type: 'string' },
        host: { type: 'string' },
        id: { type: 'string' },
        label: { type: 'string' },
        test: { type: 'string' },
        'test-fraction': { type: 'string', default: '0.2' },
        seed: { type: 'string', default: '42' },
        threshold: { type: 'string' },
        drop: { type: 'string' },
        json: { type: 'string' },
        'scores-out': { type: 'string' },
      },
      strict: true,
    });
    for (const k of ['banks', 'id', 'label'] as const) if (!values[k]) throw new IndomainError('CLI_BAD_ARGS', `--${k} is required\n${USAGE}`);
    const testFraction = Number(values['test-fraction']);
    if (!(testFraction > 0 && testFraction < 1)) throw new IndomainError('CLI_BAD_ARGS', `--test-fraction must be in (0, 1), got "${values['test-fraction']}"`);
    const int = (k: 'threshold' | 'drop') => {
      if (values[k] === undefined) return {};
      const v = Number(values[k]);
      if (!Number.isInteger(v) || v < 1) throw new IndomainError('CLI_BAD_ARGS', `--${k} must be a positive integer`);
      return { [k]: v };
    };
    const r = await consortiumBench({
      banks: values.banks!.split(',').map((s) => s.trim()).filter(Boolean),
      ...(values.host ? { host: values.host } : {}),
      id: values.id!,
      label: values.label!,
      ...(values.test ? { test: values.test } : {}),
      testFraction,
      seed: values.seed!,
      ...int('threshold'),
      ...int('drop'),
      ...(values.json ? { json: values.json } : {}),
      ...(values['scores-out'] ? { scoresOut: values['scores-out'] } : {}),
      log: (l) => process.stderr.write(`${l}\n`),
    });
    const c = r.consortium as { testAuc: number; seconds: number };
    const z = r.centralized as { testAuc: number };
    process.stdout.write(`consortium AUC ${c.testAuc.toFixed(4)} in ${c.seconds.toFixed(2)} s; pooled centralised AUC ${z.testAuc.toFixed(4)}; difference ${(r.aucDifference as number).toFixed(4)}\n`);
    return;
  }
  if (suite === 'vfl-scale') {
    const { values } = parseArgs({
      args: rest,
      options: {
        rows: { type: 'string', default: '30000,100000,300000' },
        'host-features': { type: 'string', default: '10,100,300' },
        'event-rates': { type: 'string', default: '0.2,0.02' },
        'guest-features': { type: 'string', default: '5' },
        'max-rounds': { type: 'string' },
        seed: { type: 'string', default: '42' },
        json: { type: 'string' },
      },
      strict: true,
    });
    const list = (k: 'rows' | 'host-features' | 'event-rates', integer: boolean) =>
      values[k]!.split(',').map((x) => {
        const v = Number(x);
        if (!(v > 0) || (integer && !Number.isInteger(v)) || (!integer && !(v < 1))) throw new IndomainError('CLI_BAD_ARGS', `--${k}: "${x}" is not a valid value`);
        return v;
      });
    const guestFeatures = Number(values['guest-features']);
    if (!Number.isInteger(guestFeatures) || guestFeatures < 1) throw new IndomainError('CLI_BAD_ARGS', '--guest-features must be a positive integer');
    const maxRounds = values['max-rounds'] === undefined ? undefined : Number(values['max-rounds']);
    if (maxRounds !== undefined && !(Number.isInteger(maxRounds) && maxRounds >= 1)) throw new IndomainError('CLI_BAD_ARGS', '--max-rounds must be a positive integer');
    await vflScaleBench({
      ...(maxRounds ? { maxRounds } : {}),
      rows: list('rows', true),
      hostFeatures: list('host-features', true),
      eventRates: list('event-rates', false),
      guestFeatures,
      seed: values.seed!,
      ...(values.json ? { json: values.json } : {}),
      log: (l) => process.stderr.write(`${l}\n`),
    });
    return;
  }
  if (suite !== 'vfl' && suite !== 'scorecard') throw new IndomainError('CLI_BAD_ARGS', `unknown suite "${suite ?? ''}"\n${USAGE}`);
  const { values } = parseArgs({ args: rest, options: OPTIONS, strict: true });
  if (suite === 'vfl' && values.shape !== undefined) {
    for (const k of ['guest', 'host', 'id', 'label', 'uci', 'missing', 'scores-out', ...SCORECARD_ONLY] as const) if (values[k]) throw new IndomainError('CLI_BAD_ARGS', `--${k} does not go with --shape\n${USAGE}`);
    if (!(SHAPES as readonly string[]).includes(values.shape)) throw new IndomainError('CLI_BAD_ARGS', `--shape must be one of ${SHAPES.join(', ')}, got "${values.shape}"`);
    const rows = Number(values.rows ?? '12000');
    // Below ~1,000 rows the rare shapes (1% events, 0.1% special codes) hold too few rows to fit.
    if (!Number.isInteger(rows) || rows < 1000) throw new IndomainError('CLI_BAD_ARGS', `--rows must be an integer ≥ 1000, got "${values.rows}"`);
    const testFraction = Number(values['test-fraction']);
    if (!(testFraction > 0 && testFraction < 1)) throw new IndomainError('CLI_BAD_ARGS', `--test-fraction must be in (0, 1), got "${values['test-fraction']}"`);
    const result = await vflBench({ guest: '', host: '', id: 'id', label: 'y', seed: values.seed!, testFraction, generated: { shape: values.shape as Shape, rows }, ...vflMode(values.mode), ...(values.json ? { json: values.json } : {}), log: (l) => process.stderr.write(`${l}\n`) });
    printVfl(result);
    return;
  }
  if (values.shape !== undefined) throw new IndomainError('CLI_BAD_ARGS', `--shape belongs to the vfl suite\n${USAGE}`);
  if (values.rows !== undefined) throw new IndomainError('CLI_BAD_ARGS', `--rows goes with --shape\n${USAGE}`);
  if (suite === 'vfl' && values.uci) {
    for (const k of ['guest', 'host', 'id', 'label', ...SCORECARD_ONLY] as const) if (values[k]) throw new IndomainError('CLI_BAD_ARGS', `--${k} does not go with --uci\n${USAGE}`);
    let missing: { column: string; fraction: number } | undefined;
    if (values.missing) {
      const [column, f] = values.missing.split(':');
      const fraction = Number(f);
      if (!column || !(fraction > 0 && fraction < 1)) throw new IndomainError('CLI_BAD_ARGS', `--missing must be COLUMN:FRACTION with a fraction in (0, 1), got "${values.missing}"`);
      missing = { column, fraction };
    }
    const testFraction = Number(values['test-fraction']);
    const result = await vflBench({ guest: '', host: '', id: 'ID', label: 'default.payment.next.month', seed: values.seed!, testFraction, uci: values.uci, ...vflMode(values.mode), ...(missing ? { missing } : {}), ...(values.json ? { json: values.json } : {}), log: (l) => process.stderr.write(`${l}\n`) });
    printVfl(result);
    return;
  }
  if (values.missing) throw new IndomainError('CLI_BAD_ARGS', `--missing goes with --uci\n${USAGE}`);
  // `npm run bench -- vfl` alone: FATE's default_credit pair (issue 14's reference run).
  if (suite === 'vfl' && !values.guest && !values.host && !values.id && !values.label) {
    const fate = (f: string) => new URL(`../tests/data/fate/${f}`, import.meta.url).pathname;
    Object.assign(values, { guest: fate('default_credit_hetero_guest.csv'), host: fate('default_credit_hetero_host.csv'), id: 'id', label: 'y' });
  }
  for (const k of ['guest', 'host', 'id', 'label'] as const) {
    if (!values[k]) throw new IndomainError('CLI_BAD_ARGS', `--${k} is required\n${USAGE}`);
  }
  const testFraction = Number(values['test-fraction']);
  if (!(testFraction > 0 && testFraction < 1)) throw new IndomainError('CLI_BAD_ARGS', `--test-fraction must be in (0, 1), got "${values['test-fraction']}"`);
  const log = (l: string) => process.stderr.write(`${l}\n`);
  const common = { guest: values.guest!, host: values.host!, id: values.id!, label: values.label!, seed: values.seed!, testFraction, log };
  const opt = <K extends keyof typeof values>(k: K, name: string) => (values[k] ? { [name]: values[k] } : {});
  if (suite === 'vfl') {
    for (const k of SCORECARD_ONLY) if (values[k]) throw new IndomainError('CLI_BAD_ARGS', `--${k} belongs to the scorecard suite\n${USAGE}`);
    printVfl(await vflBench({ ...common, ...vflMode(values.mode), ...opt('json', 'json'), ...opt('scores-out', 'scoresOut') }));
    return;
  }
  const policy = values.policy;
  if (policy !== 'full' && policy !== 'partial') throw new IndomainError('CLI_BAD_ARGS', `--policy must be full or partial, got "${policy}"`);
  const list = (s: string | undefined) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : []);
  const result = await scorecardBench({
    ...common,
    policy,
    guestCategorical: list(values['guest-categorical']),
    hostCategorical: list(values['host-categorical']),
    ...vflMode(values.mode),
    ...opt('json', 'json'),
    ...opt('scores-out', 'scoresOut'),
    ...opt('pmml', 'pmml'),
    ...opt('sql', 'sql'),
    ...opt('report', 'report'),
    ...opt('reasons-out', 'reasonsOut'),
  });
  const n = (k: string) => (result[k] as number).toFixed(4);
  process.stdout.write(`scorecard test AUC ${n('testAuc')} KS ${n('testKs')}; raw-feature federated LR test AUC ${n('lrTestAuc')} (difference ${n('aucScorecardMinusLr')})\n`);
  const modes = result.modes as Record<string, { testAuc: number; centralisedAucGap: number; seconds: { total: number } }>;
  for (const [m, v] of Object.entries(modes)) process.stdout.write(`  ${m}: test AUC ${v.testAuc.toFixed(4)}, gap to the centralised fit ${v.centralisedAucGap.toFixed(4)}, ${v.seconds.total.toFixed(2)} s\n`);
  const ratios = result.ratios as { twoPartyOverThreePartySeconds: number } | undefined;
  if (ratios) process.stdout.write(`  two-party / three-party time: ${ratios.twoPartyOverThreePartySeconds.toFixed(2)}×\n`);
}

function printVfl(result: Record<string, unknown>): void {
  const f = result.federated as Record<string, number>;
  const c = result.centralized as Record<string, number>;
  const n = result.centralizedNewton as Record<string, number>;
  process.stdout.write(
    `federated AUC ${f.testAuc!.toFixed(4)} KS ${f.testKs!.toFixed(4)} in ${f.trainSeconds!.toFixed(2)} s (${f.iterations} iterations); ` +
      `centralised (same optimiser) AUC ${c.testAuc!.toFixed(4)} in ${c.trainSeconds!.toFixed(4)} s; ratio ${(f.trainSeconds! / c.trainSeconds!).toFixed(0)}×; ` +
      `optimum (Newton) AUC ${n.testAuc!.toFixed(4)}, gap ${(f.testAuc! - n.testAuc!).toFixed(4)}, relative weight error ${n.relativeWeightError!.toExponential(2)} [${String(result.mode)}]\n`,
  );
  const t = result.twoParty as Record<string, number> | undefined;
  if (t) {
    const r = result.ratios as Record<string, number>;
    process.stdout.write(
      `two-party AUC ${t.testAuc!.toFixed(4)} in ${t.trainSeconds!.toFixed(2)} s (${t.iterations} iterations): ${r.timeTwoPartyOverThreeParty!.toFixed(2)}× the three-party time, ` +
        `AUC gap to the optimum ${r.aucTwoPartyMinusNewton!.toFixed(4)}, to three-party ${r.aucTwoPartyMinusThreeParty!.toFixed(4)}\n`,
    );
  }
}

/** Print a failure as its code and message (never a stack trace); exit status 1. */
export function reportFailure(e: unknown, usage = USAGE): void {
  if (isIndomainError(e)) process.stderr.write(`error ${e.code}: ${e.message}\n`);
  else if (e instanceof Error && 'code' in e && String((e as { code: unknown }).code).startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`error CLI_BAD_ARGS: ${e.message}\n${usage}\n`);
  } else process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}

if (isMain(import.meta.url)) benchMain(process.argv.slice(2)).catch((e: unknown) => reportFailure(e));
