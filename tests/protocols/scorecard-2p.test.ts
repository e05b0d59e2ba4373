import { describe, expect, it } from 'vitest';
import { spdInverse } from '../../engine/linalg.ts';
import { seededRng } from '../../engine/rng.ts';
import { binaryMetrics } from '../../models/metrics.ts';
import { fitLogistic, predictLogistic, sigmoid } from '../../models/logistic.ts';
import { bandEdges, bandsFromEdges, summariseSample } from '../../models/report.ts';
import { scorecardPmml } from '../../models/export/pmml.ts';
import { probabilityOfScore } from '../../models/scorecard.ts';
import { scorecardSql } from '../../models/export/sql.ts';
import { scorecardConfig, scorecardInMemory } from '../../protocols/scorecard/protocol.ts';
import { scorecardTwoPartyInMemory, type TwoPartyScorecardRun } from '../../protocols/scorecard-2p/protocol.ts';
import { loadSplitPair, type SplitPair } from '../../benchmarks/pair.ts';
import { IndomainError } from '../../engine/errors.ts';
import { decodeHistogram, histogramLayout } from '../../protocols/scorecard-2p/histogram.ts';
import { checkFisherWindows } from '../../protocols/scorecard-2p/fisher.ts';
import { accept, fisherConfig } from '../../protocols/scorecard-2p/common.ts';
import { vflConfig } from '../../protocols/vfl-lr/config.ts';

const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;

function input(pair: SplitPair, job: string, policy: 'full' | 'partial') {
  const side = (t: SplitPair['guest']) => ({ names: t.train.featureNames, train: t.train.features, test: t.test.features });
  return {
    guest: side(pair.guest),
    labels: { train: pair.guest.train.label!, test: pair.guest.test.label! },
    host: side(pair.host),
    hostDeclarations: { categorical: ['x1', 'x2', 'x3'] },
    config: scorecardConfig(job, { policy }),
    // The same seeded stream for both modes (tests only): the label-privacy noise of binning, drawn
    // first, is then the same, so both modes train on the same bins and WOE.
    rng: seededRng(`${job}/rng`),
  };
}

/** Both parties' state in plaintext: columns [1, X_G, X_H], weights, per-row joint logit and points. */
function central(run: TwoPartyScorecardRun) {
  const g = run.guest;
  const h = run.host;
  const cols = [...g.kept.map((f) => f.trainWoe), ...h.kept.map((f) => f.trainWoe)];
  const beta = [g.intercept, ...g.weights, ...h.weights];
  const n = cols[0]!.length;
  const x = [new Float64Array(n).fill(1), ...cols];
  const logit = new Float64Array(n);
  const points = new Float64Array(n).fill(g.base);
  for (let j = 0; j < x.length; j++) for (let i = 0; i < n; i++) logit[i]! += beta[j]! * x[j]![i]!;
  g.kept.forEach((f, j) => f.trainBins.forEach((b, i) => (points[i]! += g.points[j]![b]!)));
  h.kept.forEach((f, j) => f.trainBins.forEach((b, i) => (points[i]! += h.points[j]![b]!)));
  const d = x.length;
  const fisher = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    const p = sigmoid(logit[i]!);
    const w = p * (1 - p);
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) fisher[a * d + b]! += w * x[a]![i]! * x[b]![i]!;
  }
  const cov = spdInverse(fisher, d);
  const se = Float64Array.from({ length: d }, (_, j) => Math.sqrt(cov[j * d + j]!));
  return { cols, logit, points, se };
}

describe('two-party scorecard (no arbiter)', () => {
  it('default_credit: same model and report as the three-party mode, exact training histogram, standard errors, exports', async () => {
    const pair = await loadSplitPair({ guest: data('default_credit_hetero_guest.csv'), host: data('default_credit_hetero_host.csv'), id: 'id', label: 'y', seed: 'sc2p', testFraction: 0.2 });
    const two = await scorecardTwoPartyInMemory(input(pair, 'sc2p-dc', 'full'));
    const three = await scorecardInMemory(input(pair, 'sc2p-dc', 'full'));
    expect(two.training.guest.converged).toBe(true);
    const yTrain = pair.guest.train.label!;
    const yTest = pair.guest.test.label!;

    // Same bins and features in both modes (same label-privacy noise), so the same model up to
    // the two optimisers' stopping points.
    expect(two.guest.kept.map((f) => f.name)).toEqual(three.guest.kept.map((f) => f.name));
    expect(two.host.kept.map((f) => f.name)).toEqual(three.host.kept.map((f) => f.name));
    const w2 = [two.guest.intercept, ...two.guest.weights, ...two.host.weights];
    const w3 = [three.guest.intercept, ...three.guest.weights, ...three.host.weights];
    const weightGap = Math.max(...w2.map((w, j) => Math.abs(w - w3[j]!)));

    // Against the centralised fit on the same WOE columns: test AUC within 0.002.
    const c = central(two);
    const testCols = [...two.guest.kept.map((f) => f.testWoe), ...two.host.kept.map((f) => f.testWoe)];
    const ref = fitLogistic(c.cols, yTrain, { optimizer: 'newton', lambda: 1e-4 });
    const refAuc = binaryMetrics(predictLogistic(ref, testCols), yTest).auc;
    const floatAuc = binaryMetrics(predictLogistic({ intercept: w2[0]!, weights: Float64Array.from(w2.slice(1)) }, testCols), yTest).auc;
    const r2 = two.report;
    const r3 = three.report;
    console.log(
      `two-party: test AUC ${r2.discrimination.test.auc.toFixed(4)} (float ${floatAuc.toFixed(4)}), three-party ${r3.discrimination.test.auc.toFixed(4)}, centralised ${refAuc.toFixed(4)}; ` +
        `weights within ${weightGap.toExponential(2)} of three-party; seconds 2p ${JSON.stringify(two.seconds)} 3p ${JSON.stringify(three.seconds)}`,
    );
    expect(Math.abs(floatAuc - refAuc)).toBeLessThanOrEqual(0.002);
    expect(Math.abs(r2.discrimination.test.auc - refAuc)).toBeLessThanOrEqual(0.002);
    expect(Math.abs(r2.discrimination.test.auc - r3.discrimination.test.auc)).toBeLessThanOrEqual(0.002);
    expect(weightGap).toBeLessThanOrEqual(0.01);

    // The training histogram the guest decrypted is exact: rows and events per total score.
    const hist = two.stageGuest.histogram!;
    const rows = new Map<number, [number, number]>();
    c.points.forEach((p, i) => {
      const e = rows.get(p) ?? [0, 0];
      e[0]++;
      e[1] += yTrain[i]!;
      rows.set(p, e);
    });
    let checked = 0;
    hist.rows.forEach((count, s) => {
      const want = rows.get(hist.lowest + s) ?? [0, 0];
      expect([count, hist.events[s]]).toEqual(want);
      checked += count;
    });
    expect(checked).toBe(yTrain.length);

    // The training side of the report against what the arbiter computes from the same model's
    // rows (float logits): bands, edges and decile sizes equal; the metrics differ only by the
    // integer score's probability standing in for the float logit's.
    const plain = { prob: c.logit.map(sigmoid), points: c.points, labels: yTrain };
    const edges = bandEdges(plain.points, r2.scaling.pdo);
    const arbiter = summariseSample(plain, bandsFromEdges(edges));
    const gaps = (['auc', 'ks', 'gini', 'logLoss'] as const).map((k) => Math.abs(r2.discrimination.train[k] - arbiter.metrics[k]));
    console.log(`training metrics from the histogram vs the arbiter's (float logits): AUC ${gaps[0]!.toExponential(2)} KS ${gaps[1]!.toExponential(2)} Gini ${gaps[2]!.toExponential(2)} log-loss ${gaps[3]!.toExponential(2)}`);
    // Exact: the same summary computed in plaintext from every row's integer total points (the
    // probability of each score, ties as they fall) is what the guest derived from the histogram.
    const exact = summariseSample({ prob: c.points.map((p) => probabilityOfScore(p, r2.scaling)), points: c.points, labels: yTrain }, bandsFromEdges(edges));
    for (const k of ['auc', 'ks', 'gini', 'logLoss'] as const) expect(Math.abs(r2.discrimination.train[k] - exact.metrics[k])).toBeLessThanOrEqual(1e-9);
    // Against the float logits the integer scores' ties move the metrics by the rounding only
    // (0.9-1.03e-3 in AUC measured; within the 0.002 AUC tolerance).
    expect(gaps[0]).toBeLessThanOrEqual(2e-3);
    expect(gaps[1]).toBeLessThanOrEqual(5e-3);
    expect(gaps[3]).toBeLessThanOrEqual(1e-3);
    expect(r2.liftByBand.train.map((g) => [g.group, g.rows, g.events, g.minPoints, g.maxPoints])).toEqual(arbiter.bands.map((g, k) => [bandsFromEdges(edges)[k]!.label, g.rows, g.events, g.minPoints, g.maxPoints]));
    expect(r2.liftByDecile.train.map((g) => g.rows)).toEqual(arbiter.deciles.map((g) => g.rows));
    const decileEvents = Math.max(...r2.liftByDecile.train.map((g, k) => Math.abs(g.events - arbiter.deciles[k]!.events)));
    console.log(`decile events: largest difference ${decileEvents} (tied scores split at decile edges)`);
    expect(decileEvents).toBeLessThanOrEqual(0.02 * (yTrain.length / 10));

    // Standard errors from the two-party Fisher information against the plaintext ones.
    const se = two.guest.standardErrors!;
    const seGap = Math.max(...c.se.map((s, j) => Math.abs(se[j]! - s) / s));
    console.log(`standard errors: largest relative difference from plaintext ${seGap.toExponential(2)}`);
    expect(se.length).toBe(c.se.length);
    expect(seGap).toBeLessThanOrEqual(1e-3);

    // Deliverables as in the three-party mode.
    expect(r2.coefficients.every((x) => x.standardError > 0 && x.pValue >= 0 && x.pValue <= 1)).toBe(true);
    expect(two.model.characteristics.length).toBe(three.model.characteristics.length);
    expect(scorecardPmml(two.model)).toContain('<Scorecard');
    expect(scorecardSql(two.model)).toContain('SELECT');
    expect(two.markdown).not.toMatch(/undefined|NaN|TODO/);
    // What the host received in this stage: ciphertexts and its rotated covariance only.
    expect(new Set(two.log.filter((m) => m.to === 'host' && m.protocol === 'scorecard-2p').map((m) => m.type))).toEqual(new Set(['HistogramBlocks', 'GuestFisherInput', 'HostCovariance']));
    expect(two.log.some((m) => m.to === 'arbiter')).toBe(false);
  }, 1_800_000);

  it('breast, `partial` policy: no host points, coefficients or standard errors reach the bank; its own standard errors are the plaintext ones', async () => {
    const pair = await loadSplitPair({ guest: data('breast_hetero_guest.csv'), host: data('breast_hetero_host.csv'), id: 'id', label: 'y', seed: 'sc2p-br', testFraction: 0.2 });
    // Breast does not converge at the default λ within the round limit (as in scorecard.test.ts):
    // the test keeps its unconverged fit on purpose.
    const two = await scorecardTwoPartyInMemory({ ...input(pair, 'sc2p-br', 'partial'), hostDeclarations: {}, training: { maxIterations: 30, refuseUnconverged: false } });
    const types = new Set(two.log.map((m) => m.type));
    expect(types.has('HostPoints')).toBe(false);
    expect(types.has('HostStandardErrors')).toBe(false);
    expect(two.model.characteristics.every((c) => c.party === 'guest')).toBe(true);
    const pg = two.guest.kept.length;
    const se = two.guest.standardErrors!;
    // The host's errors are withheld (NaN, as its estimates); the intercept's and the guest's are computed.
    expect(Array.from(se.subarray(1 + pg)).every(Number.isNaN)).toBe(true);
    const c = central(two);
    const gap = Math.max(...Array.from(se.subarray(0, 1 + pg), (s, j) => Math.abs(s - c.se[j]!) / c.se[j]!));
    console.log(`breast, partial: guest standard errors within ${gap.toExponential(2)} relative of plaintext; host's withheld`);
    // Breast is nearly separable: most rows' σ′ is far below the expansion's 1e-4 tolerance in
    // absolute terms, and the inverse of its ill-conditioned information matrix amplifies that
    // (measured 2.4e-3 relative; default_credit above: 4.5e-5). 1e-2 relative.
    expect(gap).toBeLessThanOrEqual(1e-2);
    expect(two.report.coefficients.filter((x) => x.party === 'host').every((x) => Number.isNaN(x.estimate) && Number.isNaN(x.standardError))).toBe(true);
  }, 900_000);

  it('refuses bad layouts, inconsistent histograms, foreign windows and out-of-stage or repeated messages with coded errors', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof IndomainError ? e.code : String(e);
      }
      return 'no error';
    };
    expect(code(() => histogramLayout(8192, 1000, 5000, 4000))).toBe('SC_BAD_CONFIG');
    expect(code(() => histogramLayout(8192, 1000, 0, 10))).toBe('SC_BAD_MESSAGE');
    const l = histogramLayout(8192, 3, 2, 2);
    // Coefficient s holds rows + B·events: 3 rows, 1 event expected.
    const ok = Float64Array.of(1 + l.eventWeight, 1, 1);
    expect(decodeHistogram(ok, l, 10, 3, 1).rows).toEqual(Float64Array.of(1, 1, 1));
    expect(code(() => decodeHistogram(Float64Array.of(1, 1, 1), l, 10, 3, 1))).toBe('SC_BAD_MESSAGE');
    expect(code(() => decodeHistogram(Float64Array.of(2 * l.eventWeight + 1, 1, 1), l, 10, 3, 1))).toBe('SC_BAD_MESSAGE');
    const config = fisherConfig(vflConfig('j'));
    expect(code(() => checkFisherWindows([0], [2], [99], config))).toBe('SC_BAD_MESSAGE');
    expect(code(() => checkFisherWindows([1, 0], [2, 2], [5, 5], config))).toBe('SC_BAD_MESSAGE');
    const received = new Set<string>();
    const env = (type: string, from: string, body: Record<string, unknown>) => ({ job: 'j', protocol: 'scorecard-2p', type, round: 0, from, to: 'host', body });
    expect(code(() => accept(env('HostCovariance', 'guest', { covariance: new Float64Array(1) }), 'j', ['HistogramBlocks'], received))).toBe('SC_WRONG_STAGE');
    expect(code(() => accept(env('HistogramBlocks', 'host', { publicKey: new Uint8Array(1), guestRange: 1, blocks: [] }), 'j', ['HistogramBlocks'], received))).toBe('SC_BAD_MESSAGE');
    accept(env('HistogramBlocks', 'guest', { publicKey: new Uint8Array(1), guestRange: 1, blocks: [] }), 'j', ['HistogramBlocks'], received);
    expect(code(() => accept(env('HistogramBlocks', 'guest', { publicKey: new Uint8Array(1), guestRange: 1, blocks: [] }), 'j', ['HistogramBlocks'], received))).toBe('SC_WRONG_STAGE');
    expect(code(() => accept({ ...env('HistogramBlocks', 'guest', {}), job: 'other' }, 'j', ['HistogramBlocks'], new Set()))).toBe('SC_BAD_MESSAGE');
  });
});
