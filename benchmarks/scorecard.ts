/**
 * `npm run bench -- scorecard`: PSI, a seeded split, the federated scorecard (binning, selection,
 * vfl-lr on WOE features, points, standard errors, report) and, on the same split, the
 * raw-feature federated logistic regression for comparison. Writes the JSON summary and report,
 * the Markdown report, scores, PMML and SQL.
 *
 * `--mode three-party|two-party|both` (three-party by default): with an arbiter
 * (protocols/scorecard), without one (protocols/scorecard-2p), or both on the same split one after
 * the other, each with its test AUC gap against the centralised fit on its own WOE columns
 * (`centralisedAucGap`) and, under `both`, the two-party/three-party time ratio (`ratios`).
 * The deliverables (JSON report, PMML, SQL, scores) are the two-party run's under `two-party`,
 * the three-party run's otherwise.
 */
import { writeFileSync } from 'node:fs';
import { cryptoRng } from '../engine/rng.ts';
import { binaryMetrics } from '../models/metrics.ts';
import { predictLogistic } from '../models/logistic.ts';
import { scorecardPmml } from '../models/export/pmml.ts';
import { writeReportFiles } from '../models/report-files.ts';
import { scorecardSql } from '../models/export/sql.ts';
import { scorecardConfig, scorecardInMemory, type ScorecardRun } from '../protocols/scorecard/protocol.ts';
import { scorecardTwoPartyInMemory, type TwoPartyScorecardRun } from '../protocols/scorecard-2p/protocol.ts';
import { fitLogistic } from '../models/logistic.ts';
import type { VflMode } from './vfl.ts';
import type { DisclosurePolicy } from '../protocols/scorecard/config.ts';
import type { ScorecardTestSwitches } from '../protocols/scorecard/host.ts';
import { trainInMemory, vflConfig } from '../protocols/vfl-lr/protocol.ts';
import type { VflConfig } from '../protocols/vfl-lr/config.ts';
import { loadSplitPair, standardizedSide, writeScores, type PairOptions, type SplitPair } from './pair.ts';

export interface ScorecardBenchOptions extends PairOptions {
  json?: string;
  scoresOut?: string;
  pmml?: string;
  sql?: string;
  report?: string;
  reasonsOut?: string;
  policy?: DisclosurePolicy;
  guestCategorical?: string[];
  hostCategorical?: string[];
  /** With an arbiter (default), without one, or both side by side. */
  mode?: VflMode;
}

type AnyRun = ScorecardRun | TwoPartyScorecardRun;

/** One mode's figures: test AUC, its gap to the centralised fit on the same WOE columns, seconds. */
function modeSummary(run: AnyRun, pair: SplitPair) {
  const g = run.guest;
  const h = run.host;
  const train = [...g.kept.map((f) => f.trainWoe), ...h.kept.map((f) => f.trainWoe)];
  const test = [...g.kept.map((f) => f.testWoe), ...h.kept.map((f) => f.testWoe)];
  const yTest = pair.guest.test.label!;
  const ref = fitLogistic(train, pair.guest.train.label!, { optimizer: 'newton', lambda: vflConfig('reference').lambda });
  const centralisedAuc = binaryMetrics(predictLogistic(ref, test), yTest).auc;
  const model = { intercept: g.intercept, weights: Float64Array.from([...g.weights, ...h.weights]) };
  const floatAuc = binaryMetrics(predictLogistic(model, test), yTest).auc;
  const t = 'arbiter' in run.training ? run.training.arbiter : run.training.guest;
  const seconds = run.seconds.binning + run.seconds.training + run.seconds.scorecard;
  return {
    testAuc: run.report.discrimination.test.auc,
    testKs: run.report.discrimination.test.ks,
    trainAuc: run.report.discrimination.train.auc,
    modelTestAuc: floatAuc,
    centralisedTestAuc: centralisedAuc,
    centralisedAucGap: floatAuc - centralisedAuc,
    iterations: t.iterations,
    converged: t.converged,
    seconds: { ...run.seconds, total: seconds },
    bytesSent: { binningAndScorecard: run.log.reduce((s, x) => s + x.bytes, 0), training: run.training.transport.totalBytes() },
  };
}

export async function scorecardBench(o: ScorecardBenchOptions): Promise<Record<string, unknown>> {
  const log = o.log ?? (() => {});
  const pair = await loadSplitPair(o);
  const mode = o.mode ?? 'three-party';
  const modes: Record<string, ReturnType<typeof modeSummary>> = {};
  let three: ScorecardRun | undefined;
  let two: TwoPartyScorecardRun | undefined;
  if (mode !== 'two-party') {
    three = await runScorecard(pair, o);
    modes['three-party'] = modeSummary(three, pair);
    log(`three-party: test AUC ${modes['three-party'].testAuc.toFixed(4)}, centralised gap ${modes['three-party'].centralisedAucGap.toFixed(4)}, ${modes['three-party'].seconds.total.toFixed(2)} s`);
  }
  if (mode !== 'three-party') {
    two = await runScorecardTwoParty(pair, o);
    modes['two-party'] = modeSummary(two, pair);
    log(`two-party: test AUC ${modes['two-party'].testAuc.toFixed(4)}, centralised gap ${modes['two-party'].centralisedAucGap.toFixed(4)}, ${modes['two-party'].seconds.total.toFixed(2)} s`);
  }
  const run: AnyRun = mode === 'two-party' ? two! : three!;
  const ratios =
    two && three
      ? {
          twoPartyOverThreePartySeconds: modes['two-party']!.seconds.total / modes['three-party']!.seconds.total,
          twoPartyMinusThreePartyTestAuc: modes['two-party']!.testAuc - modes['three-party']!.testAuc,
        }
      : undefined;
  const r = run.report;
  log(`scorecard: test AUC ${r.discrimination.test.auc.toFixed(4)} KS ${r.discrimination.test.ks.toFixed(4)}; ` +
    `${run.model.characteristics.length} characteristics; binning ${run.seconds.binning.toFixed(2)} s, training ${run.seconds.training.toFixed(2)} s, scorecard ${run.seconds.scorecard.toFixed(2)} s`);

  const lrTest = await rawFederatedLr(pair, o.seed);
  log(`raw-feature federated LR: test AUC ${lrTest.auc.toFixed(4)}`);

  const result = {
    rows: pair.rows,
    intersection: pair.intersection,
    train: r.sample.trainRows,
    test: r.sample.testRows,
    testAuc: r.discrimination.test.auc,
    testKs: r.discrimination.test.ks,
    testGini: r.discrimination.test.gini,
    testPointsAuc: r.discrimination.testPointsAuc,
    lrTestAuc: lrTest.auc,
    lrTestKs: lrTest.ks,
    aucScorecardMinusLr: r.discrimination.test.auc - lrTest.auc,
    training: { iterations: modes[mode === 'two-party' ? 'two-party' : 'three-party']!.iterations, converged: modes[mode === 'two-party' ? 'two-party' : 'three-party']!.converged, seconds: run.training.seconds },
    mode,
    modes,
    ...(ratios ? { ratios } : {}),
    seconds: { psi: pair.psi.seconds, ...run.seconds },
    bytesSent: { binningAndScorecard: run.log.reduce((s, x) => s + x.bytes, 0), training: run.training.transport.totalBytes() },
    model: run.model,
    report: r,
    seed: o.seed,
    testFraction: o.testFraction,
  };
  if (o.json) writeFileSync(o.json, JSON.stringify(result, null, 2));
  // REPORT.md, with REPORT.html and figures/*.svg beside it.
  if (o.report) writeReportFiles(o.report, r);
  if (o.pmml) writeFileSync(o.pmml, scorecardPmml(run.model));
  if (o.sql) writeFileSync(o.sql, scorecardSql(run.model));
  const g = run.guest;
  // Test rows only: the bank holds no platform value of a training row (issue 12).
  const noTrain = { ids: [], cols: [] };
  if (o.scoresOut) writeScores(o.scoresOut, ['score', 'points'], noTrain, { ids: pair.guest.test.ids, cols: [g.test!.prob, g.test!.points] });
  if (o.reasonsOut) {
    const codes = (rows: string[][]) => rows.map((r) => r.join(' '));
    writeScores(o.reasonsOut, ['reasons'], noTrain, { ids: pair.guest.test.ids, cols: [codes(run.reasons.test)] });
  }
  return result;
}

/** The raw-feature federated LR (z-scored features) on the same split: the comparison model, trained as the scorecard's own LR is. */
export async function rawFederatedLr(pair: SplitPair, seed: string, training: Partial<VflConfig> = {}) {
  const gp = standardizedSide(pair.guest);
  const hp = standardizedSide(pair.host);
  const lr = await trainInMemory({ guest: gp.train, labels: gp.trainTable.label!, host: hp.train, config: vflConfig(`bench-${seed}/raw-lr`, training), rng: cryptoRng });
  const model = { intercept: lr.guest.weights[0]!, weights: Float64Array.from([...lr.guest.weights.subarray(1), ...lr.host.weights]) };
  return binaryMetrics(predictLogistic(model, [...gp.test, ...hp.test]), gp.testTable.label!);
}

/** The two-party scorecard (no arbiter) on the same split. */
export function runScorecardTwoParty(pair: SplitPair, o: Pick<ScorecardBenchOptions, 'seed' | 'policy' | 'guestCategorical' | 'hostCategorical'>): Promise<TwoPartyScorecardRun> {
  const side = (t: SplitPair['guest']) => ({ names: t.train.featureNames, train: t.train.features, test: t.test.features });
  return scorecardTwoPartyInMemory({
    guest: side(pair.guest),
    labels: { train: pair.guest.train.label!, test: pair.guest.test.label! },
    host: side(pair.host),
    guestDeclarations: { categorical: o.guestCategorical ?? [] },
    hostDeclarations: { categorical: o.hostCategorical ?? [] },
    config: scorecardConfig(`scorecard-2p-${o.seed}`, { policy: o.policy ?? 'full' }),
    rng: cryptoRng,
  });
}

/** `testOnly`: the in-memory run's test switches (protocols/scorecard/protocol.ts), for tests only. */
export function runScorecard(
  pair: SplitPair,
  o: Pick<ScorecardBenchOptions, 'seed' | 'policy' | 'guestCategorical' | 'hostCategorical'> & { testOnly?: ScorecardTestSwitches; training?: Partial<VflConfig> },
): Promise<ScorecardRun> {
  const side = (t: SplitPair['guest']) => ({ names: t.train.featureNames, train: t.train.features, test: t.test.features });
  return scorecardInMemory({
    guest: side(pair.guest),
    labels: { train: pair.guest.train.label!, test: pair.guest.test.label! },
    host: side(pair.host),
    guestDeclarations: { categorical: o.guestCategorical ?? [] },
    hostDeclarations: { categorical: o.hostCategorical ?? [] },
    config: scorecardConfig(`scorecard-${o.seed}`, { policy: o.policy ?? 'full' }),
    rng: cryptoRng,
    testOnly: o.testOnly,
    ...(o.training ? { training: o.training } : {}),
  });
}
