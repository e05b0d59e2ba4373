/**
 * Horizontal consortium logistic regression (`consortium-lr`): banks with the same features and
 * different borrowers train one model, equal to the model a single party would fit on all their rows
 * pooled, while no bank's rows, gradient or Hessian leave it except inside a secure sum.
 *
 * Objective: mean log-loss over the pooled rows + (λ/2)·‖w‖² over the feature weights (the
 * intercept unpenalised), as models/logistic.ts. Newton's method, as the plaintext reference fits it:
 *   round 0   secagg of (n_b, Σ y) per bank            → pooled event rate; intercept = logit(rate)
 *   round r   secagg of (n_b, X_bᵀ(p − y), upper triangle of X_bᵀ diag(p(1−p)) X_b)
 *             the coordinator receives the sums (the banks too when they cover three banks or
 *             more: secagg withholds a two-bank sum from the banks) and takes the step
 *             w ← w − (H/N + λI)⁻¹ (g/N + λw), until ‖g/N + λw‖∞ ≤ tol.
 * The sums are exact in fixed point (protocols/secagg), so the iterates are the pooled Newton
 * iterates up to the fixed-point rounding of each bank's sums (2^−fractionBits).
 *
 * What each party learns, per round: the pooled row count, gradient and Hessian (aggregates over
 * every surviving bank's rows) and, from them, the model (banks: only sums over three banks or
 * more). No party learns one bank's count, gradient or Hessian (see protocols/secagg/protocol.ts),
 * except the row count of a bank that dropped (the row counts before and after differ by it). The
 * banks agree their secure-aggregation keys once per job; each round's masks are derived from them.
 * A bank that drops out is left out of the rounds after it dropped (its mask key has been rebuilt:
 * it is out for the rest of the job); the model is then the pooled model of the banks that remained.
 */
import { cholesky, choleskySolve, maxAbs } from '../../engine/linalg.ts';
import { crossGram, linearPredictor, ones, transposeTimes } from '../../engine/columns.ts';
import { IndomainError } from '../../engine/errors.ts';
import { logit, sigmoid } from '../../models/logistic.ts';
import { SecAggJob, secAggConfig } from '../secagg/protocol.ts';
import { full, upper } from './symmetric.ts';

export interface BankRows {
  /** Feature columns (no intercept), the same features in the same order at every bank. */
  readonly x: readonly Float64Array[];
  readonly y: Uint8Array;
}

export interface ConsortiumLrConfig {
  readonly job: string;
  readonly lambda: number;
  readonly tolerance: number;
  readonly maxIterations: number;
  /** Banks needed in every secure sum (default: a majority). */
  readonly threshold?: number;
  /** Fixed-point fraction bits of the secure sums. */
  readonly fractionBits: number;
}

export const DEFAULT_CONSORTIUM_LR: Omit<ConsortiumLrConfig, 'job'> = { lambda: 1e-4, tolerance: 1e-8, maxIterations: 30, fractionBits: 20 };

export interface RoundRecord {
  readonly round: number;
  /** Banks whose rows the round's sums hold. */
  readonly banks: string[];
  readonly seconds: number;
  /** Bytes each bank sent in the round's secure sum. */
  readonly bytesPerBank: Record<string, number>;
}

export interface ConsortiumLrResult {
  readonly intercept: number;
  readonly weights: Float64Array;
  readonly iterations: number;
  readonly converged: boolean;
  readonly rows: number;
  /** The secure-aggregation key set-up, once per job. */
  readonly setup: { seconds: number; bytesPerBank: Record<string, number> };
  readonly rounds: RoundRecord[];
}

/** A bank that stops answering in `round`, before stage `at`, and never comes back. */
export interface Drop {
  readonly bank: string;
  readonly round: number;
  readonly at: 'mask' | 'unmask';
}

/** Train with every bank and the coordinator in this process (secure sums over the in-memory transport). */
export async function consortiumLrInMemory(input: {
  readonly config: Partial<ConsortiumLrConfig> & Pick<ConsortiumLrConfig, 'job'>;
  readonly banks: ReadonlyMap<string, BankRows>;
  readonly drops?: readonly Drop[];
}): Promise<ConsortiumLrResult> {
  const config: ConsortiumLrConfig = { ...DEFAULT_CONSORTIUM_LR, ...input.config };
  const names = [...input.banks.keys()];
  const widths = new Set([...input.banks.values()].map((b) => b.x.length));
  if (widths.size !== 1) throw new IndomainError('SECAGG_BAD_CONFIG', `banks hold ${[...widths].join(' and ')} feature columns; all must hold the same features`, { field: 'banks' });
  const d = [...widths][0]! + 1;
  const design = new Map([...input.banks].map(([name, b]) => [name, [ones(b.y.length), ...b.x]]));
  const rounds: RoundRecord[] = [];
  const job = new SecAggJob(secAggConfig({ job: config.job, banks: names, fractionBits: config.fractionBits, ...(config.threshold ? { threshold: config.threshold } : {}) }));
  await job.setup();
  const setup = { seconds: job.setupOutcome!.seconds, bytesPerBank: job.setupOutcome!.bytesPerBank };
  let live = job.coordinator.members.live;

  /** One secure sum of each live bank's vector (secagg round `round` + 1); returns the sum. */
  const secureSum = async (round: number, local: (bank: string) => Float64Array) => {
    const drops = new Map<string, 'mask' | 'unmask'>();
    for (const drop of input.drops ?? []) if (drop.round === round) drops.set(drop.bank, drop.at);
    const inputs = new Map(live.map((b) => [b, local(b)]));
    const outcome = await job.aggregate(round + 1, inputs, drops);
    live = outcome.banks;
    rounds.push({ round, banks: outcome.banks, seconds: outcome.seconds, bytesPerBank: outcome.bytesPerBank });
    return outcome.sum;
  };

  const counts = await secureSum(0, (b) => {
    const y = input.banks.get(b)!.y;
    return Float64Array.of(y.length, y.reduce((s, v) => s + v, 0));
  });
  const w = new Float64Array(d);
  w[0] = logit(Math.min(1 - 1e-6, Math.max(1e-6, counts[1]! / counts[0]!)));
  let iterations = 0;
  let converged = false;
  let rows = counts[0]!;
  const tri = (d * (d + 1)) / 2;
  for (let round = 1; iterations <= config.maxIterations; round++) {
    const weights = w.slice();
    const sums = await secureSum(round, (b) => {
      const x = design.get(b)!;
      const y = input.banks.get(b)!.y;
      const n = y.length;
      const z = linearPredictor(x, weights, n);
      const wt = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const p = sigmoid(z[i]!);
        wt[i] = p * (1 - p);
        z[i] = p - y[i]!;
      }
      const out = new Float64Array(1 + d + tri);
      out[0] = n;
      out.set(transposeTimes(x, z), 1);
      out.set(upper(crossGram(x, x, wt), d), 1 + d);
      return out;
    });
    rows = sums[0]!;
    const g = sums.slice(1, 1 + d);
    for (let j = 0; j < d; j++) g[j] = g[j]! / rows + (j > 0 ? config.lambda * w[j]! : 0);
    if (maxAbs(g) <= config.tolerance) {
      converged = true;
      break;
    }
    if (iterations === config.maxIterations) break;
    const h = full(sums.slice(1 + d), d);
    for (let k = 0; k < d * d; k++) h[k] = h[k]! / rows;
    for (let j = 0; j < d; j++) h[j * d + j] += (j > 0 ? config.lambda : 0) + 1e-12;
    const step = choleskySolve(cholesky(h, d), d, g);
    for (let j = 0; j < d; j++) w[j] -= step[j]!;
    iterations++;
  }
  return { intercept: w[0]!, weights: w.slice(1), iterations, converged, rows, setup, rounds };
}
