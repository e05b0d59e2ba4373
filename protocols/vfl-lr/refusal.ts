/**
 * Refusals of federated training (vfl-lr and vfl-lr-2p), the federated counterparts of the
 * plaintext reference's (models/refusals.ts), each decided by a party from what it holds and
 * naming its own features only:
 *
 * - Before any message (guest): its own columns separate its labels completely (the plaintext
 *   test on its own columns: an L2 fit of them alone puts every training row on its label's side).
 *   Exact for a leak on the bank's side: adding the platform's columns at weight 0 keeps the rows
 *   separated, so the joint problem has no finite unpenalised optimum either. VFL_SEPARATION.
 * - At the end of a run that converged or ran 20 rounds (guest and host, on Finished), from the
 *   party's own columns and final weights: separation that needs the other party's columns (a platform column that encodes the label or
 *   splits it at a threshold, or guest and host columns together). VFL_SEPARATION, below.
 * - At the end: a run that reached maxIterations without converging, unless the job says
 *   refuseUnconverged: false. VFL_NOT_CONVERGED.
 *
 * Separation at the end. Nobody sees the joint logits, and no aggregate the arbiter holds decides
 * it: at the job's λ a separable pair and FATE breast (jointly separable: 30 columns, 569 rows;
 * 0 training errors at λ = 1e-8) give the same penalised fit. Measured at λ = 1e-4, the mean
 * absolute residual over 2p̄(1−p̄) was 0.0648 on a separable pair and 0.0495 on breast; the
 * λ-sensitivity of the weights λ·w̃ᵀH⁻¹w̃/‖w̃‖² 0.16–0.37 on separable pairs, 0.43 on breast and
 * 0.13 on the `mixed` shape (curvature down to λ at a 1% event rate); an upper bound on the
 * final training loss chained from H(p̄) along the arbiter's path by convexity was 0.03–0.34,
 * where the true loss was 0.0002–0.035, so the loss cannot be bounded from the gradients alone.
 * What separation does leave is in each party's weights: the penalty is the only thing that
 * stops them, so at a small λ the separating columns take weights far beyond any credit model.
 * The test is on each own column j: |w_j| times its spread, the standard deviation of the column
 * clamped to its 1st–99th percentiles (so that special codes, heavy tails and rare extreme values
 * do not inflate it), is the move in log-odds of one typical standard deviation of the column;
 * and the same spread of the party's whole partial logit, for several columns acting together.
 * Measured over the exact optima at λ = 1e-4 (the federated fit matches them within 1e-3, 6e-3
 * on `mixed`), the larger of the two parties:
 *   well-posed: the seven generated shapes (seeds 1–3 at 12,000 rows, and 3,000), 30,000 rows
 *   with 100 and 300 platform columns at event rates 20% and 2%, FATE default_credit, the raw UCI
 *   file (12,000 and 30,000 rows): column at most 1.44, partial logit at most 2.29;
 *   separable: a platform column encoding the label 7.55 (event rate 20%) and 3.13 (1%: barely
 *   over the limit, the minority is the 1% the clamp drops), a threshold column with a one-unit
 *   margin 17.3 (5.4 in the `mixed` shape), a guest and a platform column that separate only
 *   together 13.5 and 13.9, FATE breast 3.5 (guest) and 3.1 (30 columns, 569 rows); 50
 *   platform columns that separate only by their sum, every one below 3: partial logit 18.2.
 *   Federated (tests/protocols/vfl-refusals.test.ts, 2,250 rows): label code 7.5, days past due
 *   ≥ 90 14.5, the guest's part of a joint separation 13.4.
 * Hence the limits {@link SEPARATION_COLUMN_SPREAD} and {@link SEPARATION_LOGIT_SPREAD}. Both
 * scale with the weights, which scale with the penalty: at λ = 1e-3 the label column reads 5.06
 * (refused), at λ = 0.05 1.8 (not refused: a strong penalty keeps a separation from showing in
 * the weights; breast at 0.05, where the tests run it, reads 0.40 and 2.27). Not seen: a
 * separation by many columns each below the limit, at both parties. Not a proof either way: a
 * column this strong that does not quite separate (a near-deterministic predictor) is refused
 * too, which in credit data means a leak of the outcome all the same.
 *
 * What a refusal discloses: the error stays with the refusing party (its own feature names); the
 * JobFailed a node sends carries the code and stage only (server/messages.ts).
 */
import { linearPredictor } from '../../engine/columns.ts';
import { IndomainError } from '../../engine/errors.ts';
import { checkSeparation, notConverged } from '../../models/refusals.ts';
import { fitLogistic } from '../../models/logistic.ts';

/**
 * Guest, before training: refuse when its own columns alone separate its labels. Fitted at a
 * vanishing penalty, whatever the job's λ: separation is a property of the data (a strong L2 term
 * keeps the fitted boundary from separating rows that a weaker one separates: a server job at
 * λ = 0.05 with a column copying the label was not caught at the job's λ). Non-separable rows are
 * never all on their side, so this cannot refuse them.
 */
export function checkOwnSeparation(cols: readonly Float64Array[], y: Uint8Array, names: readonly string[] | undefined): void {
  const own = fitLogistic(cols, y, { optimizer: 'newton', lambda: 1e-8, tolerance: 1e-8, maxIterations: 100 });
  try {
    checkSeparation(cols, names, y, own);
  } catch (e) {
    if (e instanceof IndomainError) throw new IndomainError('VFL_SEPARATION', `the guest's own columns separate its labels: ${e.message.replace(/^.*: /, '')}`);
    throw e;
  }
}

/**
 * Largest move in log-odds of one own column's clamped standard deviation before the fit is
 * refused as separated (3: odds × 20 per typical deviation; well-posed data measured ≤ 1.44).
 */
export const SEPARATION_COLUMN_SPREAD = 3;
/** The same for a party's whole partial logit (well-posed measured ≤ 2.29 with 300 columns). */
export const SEPARATION_LOGIT_SPREAD = 6;
/** Clamping quantile of the spread: 1% of rows at each end do not count. */
const SPREAD_QUANTILE = 0.01;
/** Rows (evenly strided) the clamping quantiles are taken from: 1% of them is 80 rows. */
const QUANTILE_ROWS = 1 << 13;

/** Standard deviation of `v` clamped to its SPREAD_QUANTILE and 1 − SPREAD_QUANTILE quantiles. */
export function clampedSpread(v: ArrayLike<number>): number {
  const n = v.length;
  if (n === 0) return 0;
  const stride = Math.max(1, Math.floor(n / QUANTILE_ROWS));
  const sample = new Float64Array(Math.ceil(n / stride));
  for (let i = 0, k = 0; i < n; i += stride) sample[k++] = v[i]!;
  sample.sort();
  const lo = sample[Math.floor(SPREAD_QUANTILE * (sample.length - 1))]!;
  const hi = sample[Math.ceil((1 - SPREAD_QUANTILE) * (sample.length - 1))]!;
  // Shifted by the median so that the one-pass variance does not cancel.
  const shift = sample[sample.length >> 1]!;
  let s = 0;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const x = v[i]!;
    const c = (x < lo ? lo : x > hi ? hi : x) - shift;
    s += c;
    ss += c * c;
  }
  const mean = s / n;
  return Math.sqrt(Math.max(0, ss / n - mean * mean));
}

/**
 * A party, at the end: refuse when its final weights show that the training rows are separated
 * (module header), naming its own columns that carry it. Undefined when the model stands.
 */
export function separationRefusal(cols: readonly Float64Array[], weights: ArrayLike<number>, names: readonly string[] | undefined): IndomainError | undefined {
  if (cols.length === 0) return undefined;
  const moves = cols.map((c, j) => Math.abs(weights[j]!) * clampedSpread(c));
  const name = (j: number) => names?.[j] ?? `column ${j}`;
  const ranked = moves.map((m, j) => ({ m, j })).sort((a, b) => b.m - a.m);
  const advice = 'a weight only the penalty holds back. Check it for leakage of the outcome (recorded after, or derived from, the default), then bin it or drop it';
  const flagged = ranked.filter(({ m }) => m >= SEPARATION_COLUMN_SPREAD);
  if (flagged.length > 0) {
    return new IndomainError(
      'VFL_SEPARATION',
      `through ${flagged.map(({ j }) => name(j)).join(', ')}, alone or with the other party's columns: one typical standard deviation moves the log-odds by ` +
        `${flagged[0]!.m.toFixed(1)} (refused from ${SEPARATION_COLUMN_SPREAD}; credit data stays below 1.5), ${advice}`,
    );
  }
  const spread = clampedSpread(linearPredictor(cols, weights, cols[0]!.length));
  if (spread < SEPARATION_LOGIT_SPREAD) return undefined;
  // Several columns together: the three that move this party's partial logit most.
  return new IndomainError(
    'VFL_SEPARATION',
    `through ${ranked.slice(0, 3).map(({ j }) => name(j)).join(', ')} together, alone or with the other party's columns: one typical standard deviation of ` +
      `this party's partial logit is ${spread.toFixed(1)} in log-odds (refused from ${SEPARATION_LOGIT_SPREAD}; credit data stays below 2.5), ${advice}`,
  );
}

/**
 * Rounds after which an unconverged run's weights are tested for separation too: the well-posed
 * shapes converge in 5–24 rounds (tests/protocols/vfl-shapes.test.ts, after the shares rewrite),
 * and a separable pair often does not converge at all (its curvature is down to λ, under the
 * flooding noise: FATE breast with a platform column equal to the label ran its 60 rounds in the
 * server test), while after 2 rounds on breast a line-search trial already moved one column's
 * log-odds by 4.5.
 */
export const SEPARATION_MIN_ROUNDS = 20;

/**
 * A party's refusal when Finished: separation shown by its own weights (separationRefusal) in a
 * converged run or one that ran SEPARATION_MIN_ROUNDS rounds, else a run that did not converge;
 * undefined when the model stands. `refuseUnconverged: false` keeps the model as the run ends,
 * whichever (a deliberately short run or a test: the FATE breast tests at the default λ, jointly
 * separable, keep theirs).
 */
export function finishRefusal(end: { converged: boolean; iterations: number }, cols: readonly Float64Array[], weights: ArrayLike<number>, names: readonly string[] | undefined, refuseUnconverged: boolean): IndomainError | undefined {
  if (!refuseUnconverged) return undefined;
  if (end.converged || end.iterations >= SEPARATION_MIN_ROUNDS) {
    const separated = separationRefusal(cols, weights, names);
    if (separated || end.converged) return separated;
  }
  if (cols.length === 0) return new IndomainError('VFL_NOT_CONVERGED', `after ${end.iterations} iterations; cap, bin or drop the features with the most extreme logit contributions (the other party's)`);
  return notConverged(cols, names, weights, end.iterations);
}
