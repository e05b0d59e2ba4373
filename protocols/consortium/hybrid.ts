/**
 * Hybrid consortium logistic regression (protocol `consortium-hybrid`): n banks, each joined
 * vertically with the platform on its own borrowers (protocols/psi), train ONE model over
 * (bank features, platform features), equal to the model one party would fit on all their rows
 * pooled. Every bank holds the same bank features; the platform holds its features for each bank's
 * aligned rows. Objective: mean log-loss over the pooled rows + (λ/2)‖w‖² over the feature weights
 * (the intercept, in the bank block, unpenalised), as models/logistic.ts.
 *
 * Parties. Banks B_1..B_n (features X_b, labels y_b), platform P (X_H,b for each bank's rows),
 * coordinator C (owns the CKKS key, as the arbiter of protocols/vfl-lr; runs secure aggregation).
 *
 * Flow.
 *   secagg    every bank's (n_b, Σ y_b, upper triangle of [1 X_b]ᵀ[1 X_b]) summed among the banks
 *             (protocols/secagg): C and every bank get N, the pooled event rate and the pooled
 *             bank-feature Gram block, no party one bank's
 *   C → B, P  HybridSetup    CKKS public and Galois keys
 *   P → C     PlatformGram   Σ_b X_H,bᵀ X_H,b and N (the platform aligned every bank's rows)
 *   C         initial Hessian p̄(1−p̄)·G/N + λI from the two Gram blocks (cross block 0), BFGS state
 *   per round:
 *   C → P     HybridRoundStart
 *   P → B_b   PairBasis      centre, half-width and [[T_k(τ_b)]] of the platform's partial logits
 *                            on B_b's rows, as vfl-lr's HostBasis
 *   B_b → P   PairResidual   [[d_b]] = [[σ(z_b) − y_b]] (per-sample Chebyshev expansion in the
 *                            platform's partial logit), re-randomised
 *   B_b → P   BankGradient   [[[1 X_b]ᵀ d_b / √N]], re-randomised
 *   P         [[g_B]] = Σ_b [[bank gradient_b]], [[g_H]] = Σ_b [[X_H,bᵀ d_b / √N]]: sums of
 *             ciphertexts under C's key, before anyone decrypts; re-randomised
 *   P → C     GradientSum    [[g_B]], [[g_H]]
 *   C         decrypts, floods, ∇ = (g_B, g_H)/√N + λw; BFGS step
 *   C → B_b   HybridUpdate   the bank block of the step (the same for every bank)
 *   C → P     HybridUpdate   the platform block
 *   …until ‖∇‖∞ ≤ tol or the round limit: C → all HybridFinished.
 * The gradient exists only under encryption (the residual depends on the platform's partial
 * logits), so its bank part is summed across banks homomorphically by the platform, which cannot
 * decrypt; the plaintext statistics (counts, Gram block) go through secure aggregation.
 *
 * What each party learns:
 *   Bank:        N and the pooled event count (the secure sum; with two banks the other's by
 *                subtraction); the pooled bank-feature Gram block only with three banks or more
 *                (secagg withholds a two-bank sum from the banks), the centre and half-width of the platform's
 *                partial logits over its own rows, the bank block of the model; ciphertexts only
 *                otherwise. Nothing about another bank beyond the sums.
 *   Platform:    each bank's aligned rows (from PSI, as in vfl-lr), N, its own block of the model;
 *                every bank's residual and gradient part as re-randomised ciphertexts under C's key
 *                (no label, no residual, no bank's gradient).
 *   Coordinator: N, the pooled event rate, both Gram blocks (pooled), per round the pooled
 *                gradient (flooded), hence the model, as vfl-lr's arbiter; never one bank's part:
 *                every GradientSum covers two banks or more (a round that fewer answered is refused,
 *                VFL_TOO_FEW_BANKS, and the job stops).
 * Threat model: semi-honest parties; the coordinator does not collude with the platform (with it,
 * it could decrypt a bank's gradient part and residual) — the trust of vfl-lr's arbiter.
 * Dropout. A round closes when every live bank has sent its parts or when the driver's deadline
 * passes ({@link HybridPlatform.deadline}); a bank missing then is out for the rest of the job, the
 * platform sums the others and tells the coordinator their row count, and the coordinator restarts
 * BFGS on the pooled objective of the banks that remain (the model is then their pooled model).
 */
import { IndomainError } from '../../engine/errors.ts';
import { cryptoRng, type Rng } from '../../engine/rng.ts';
import { createCkks } from '../he/ckks.ts';
import type { Envelope } from '../message.ts';
import { MemoryTransport, type Party } from '../transport.ts';
import { SecAggJob, secAggConfig } from '../secagg/protocol.ts';
import { vflConfig, type VflConfig } from '../vfl-lr/config.ts';
import { HybridBank } from './hybrid-bank.ts';
import { bankStatistics, COORDINATOR, PLATFORM, pooledFrom } from './hybrid-common.ts';
import { HybridCoordinator } from './hybrid-coordinator.ts';
import { HybridPlatform } from './hybrid-platform.ts';

export { HybridBank, HybridCoordinator, HybridPlatform, bankStatistics, pooledFrom, COORDINATOR, PLATFORM };
export type { PooledStatistics } from './hybrid-common.ts';

/** A bank that goes silent from round `round` on (its process was killed): it sends nothing more. */
class KilledBank implements Party {
  constructor(
    readonly bank: HybridBank,
    private readonly round: number,
  ) {}

  get name(): string {
    return this.bank.name;
  }

  get done(): boolean {
    return true;
  }

  start(): Envelope[] {
    return [];
  }

  receive(env: Envelope): Envelope[] {
    return env.round >= this.round && env.type !== 'HybridSetup' ? [] : this.bank.receive(env);
  }
}

/** One bank's rows for the hybrid pipeline, aligned with the platform's. */
export interface HybridPair {
  /** The bank's feature columns (the same features at every bank). */
  readonly bank: readonly Float64Array[];
  readonly y: Uint8Array;
  /** The platform's feature columns over the same rows, same order. */
  readonly platform: readonly Float64Array[];
}

export interface HybridResult {
  readonly intercept: number;
  /** Bank features, then platform features. */
  readonly weights: Float64Array;
  readonly iterations: number;
  readonly converged: boolean;
  /** Rows of the banks the model was last trained over. */
  readonly rows: number;
  readonly banks: HybridBank[];
  readonly platform: HybridPlatform;
  readonly coordinator: HybridCoordinator;
  readonly transport: MemoryTransport;
  /** Seconds and bytes per bank of the secure sum of the statistics (set-up and one round). */
  readonly secureSum: { setupSeconds: number; seconds: number; bytesPerBank: Record<string, number> };
  readonly seconds: number;
}

/** Train with every bank, the platform and the coordinator in this process. */
/**
 * The hybrid's platform sends one clamped window (hybrid-platform.ts), so it keeps vfl-lr's earlier
 * defaults (sigmoid to 1e-2 at degree ≤ 8, gradient tolerance 1e-4, 30 rounds); vfl-lr's own
 * defaults since issue 14 (every row windowed, sigmoid to 1e-4, tolerance at the flooding noise)
 * assume the windowed basis. Measured on default_credit, 3 banks (same run, bench lock): this preset
 * 42.8 s, 11 rounds, test AUC gap to the pooled fit −3.7e-4, largest weight difference 0.015;
 * vfl-lr's defaults 125.4 s (2.9×), 25 rounds, −8e-5, 0.0064. Kept until the hybrid's platform
 * sends the windowed basis (protocols/vfl-lr/windows.ts) and its coordinator stops at the flood.
 */
export const HYBRID_ONE_WINDOW: Partial<VflConfig> = { sigmoidTolerance: 1e-2, sigmoidToleranceStart: 1e-2, chebyshevDegree: 8, tolerance: 1e-4, maxIterations: 30 };

export async function hybridLrInMemory(input: {
  readonly job: string;
  readonly pairs: ReadonlyMap<string, HybridPair>;
  readonly config?: Partial<VflConfig>;
  /** The coordinator's randomness (noise flooding); the OS generator by default. */
  readonly rng?: Rng;
  readonly threshold?: number;
  /** Banks killed in a training round, before they answer the platform's basis. */
  readonly drops?: readonly { readonly bank: string; readonly round: number }[];
  /** FOR THE ATTACK TESTS ONLY. */
  readonly unsafe?: { bankRerandomise?: boolean; forwardOneBank?: string; loneBank?: boolean };
}): Promise<HybridResult> {
  const t0 = performance.now();
  const config = vflConfig(input.job, { ...HYBRID_ONE_WINDOW, ...input.config });
  const names = [...input.pairs.keys()];
  const widths = new Set([...input.pairs.values()].map((p) => p.bank.length));
  if (widths.size !== 1) throw new IndomainError('VFL_BAD_CONFIG', `banks hold ${[...widths].join(' and ')} feature columns; all must hold the same features`, { field: 'banks' });
  const bankFeatures = [...widths][0]!;
  // Secure aggregation of each bank's counts and Gram block.
  const sa = new SecAggJob(secAggConfig({ job: `${input.job}/statistics`, banks: names, fractionBits: 16, ...(input.threshold ? { threshold: input.threshold } : {}) }));
  await sa.setup();
  const stats = await sa.aggregate(1, new Map(names.map((b) => [b, bankStatistics(input.pairs.get(b)!.bank, input.pairs.get(b)!.y)])));
  if (stats.banks.length !== names.length) throw new IndomainError('SECAGG_BELOW_THRESHOLD', `${stats.banks.length} of ${names.length} banks answered`, { field: 'banks' });
  const pooled = pooledFrom(stats.sum, bankFeatures);
  const contexts = await Promise.all([...names, PLATFORM, COORDINATOR].map(() => createCkks(config.params)));
  const banks = names.map((b, i) => new HybridBank(b, contexts[i]!, input.pairs.get(b)!.bank, input.pairs.get(b)!.y, { rows: pooled.rows, events: pooled.events }, config, cryptoRng, input.unsafe?.bankRerandomise ?? true));
  const platform = new HybridPlatform(contexts[names.length]!, new Map(names.map((b) => [b, input.pairs.get(b)!.platform])), bankFeatures, config, cryptoRng, { ...(input.unsafe?.forwardOneBank ? { forwardOneBank: input.unsafe.forwardOneBank } : {}), ...(input.unsafe?.loneBank ? { loneBank: true } : {}) });
  const coordinator = new HybridCoordinator(contexts[names.length + 1]!, names, pooled, config, input.rng ?? cryptoRng, { loneBank: input.unsafe?.loneBank ?? false });
  const parties = banks.map((b) => {
    const drop = input.drops?.find((d) => d.bank === b.name);
    return drop ? new KilledBank(b, drop.round) : b;
  });
  const transport = new MemoryTransport([coordinator, platform, ...parties]);
  await transport.run();
  // Each time the transport goes idle before the end, the platform's round deadline passes.
  while (!coordinator.done) {
    const late = platform.deadline();
    if (late.length === 0) throw new IndomainError('VFL_NOT_CONVERGED', `training stalled in round ${coordinator.round}`);
    await transport.run(late);
  }
  const alive = banks.find((b) => !input.drops?.some((d) => d.bank === b.name))!;
  const w = Float64Array.from([...alive.weights, ...platform.weights]);
  return {
    intercept: w[0]!,
    weights: w.slice(1),
    iterations: coordinator.round,
    converged: coordinator.converged,
    rows: coordinator.liveRows,
    banks,
    platform,
    coordinator,
    transport,
    secureSum: { setupSeconds: sa.setupOutcome!.seconds, seconds: stats.seconds, bytesPerBank: stats.bytesPerBank },
    seconds: (performance.now() - t0) / 1000,
  };
}
