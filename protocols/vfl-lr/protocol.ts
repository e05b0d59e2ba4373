/**
 * Vertical logistic regression with an arbiter (protocol `vfl-lr`): additive secret sharing in
 * Z_M (M ≈ 2^105, protocols/mpc/rns.ts) with the arbiter as the dealer of correlated randomness.
 *
 * Parties. Guest G (the bank): aligned rows' features X_G, labels y. Host H (the platform):
 * features X_H of the same rows in the same order (see protocols/psi). Arbiter A (the
 * coordinator): deals seeds and Beaver corrections, runs the optimiser, holds no data; it also
 * owns the job's CKKS key pair, which only the scorecard stage uses. Objective: mean log-loss +
 * (λ/2)‖w‖² over feature weights; the guest holds the intercept.
 *
 * Flow (shares.ts has the algebra of a round).
 *   A → G, H  HeSetup            CKKS public and Galois keys (for the scorecard stage), and each
 *                                party's own seed, from which its cross-Gram triple and every pad
 *                                of the shared round derive (metadata)
 *   G → H     GuestPaddedSample  fixed-point X_G on the m sample rows under a one-time pad mod 2^32
 *                                from the arbiter's seed, seed of an output mask R (ciphertext);
 *                                the seed of the per-round gradient masks derives from R's
 *   H → G     HostPaddedSample   fixed-point X_H on the sample rows, one-time padded (ciphertext)
 *   G → H     GuestColumns       X_G (intercept first) on every row, fixed point in Z_M under a
 *                                one-time pad from its seed, a part of the rows at a time, once
 *   H → G     HostColumns        X_H likewise, once (ciphertext)
 *   H → A     HostInit           sample Gram X_Hᵀ X_H, its share of X_Gᵀ X_H masked by −R, the
 *                                fixed-point bits of its columns (aggregate)
 *   G → A     GuestInit          sample Gram X_Gᵀ X_G, event rate, its share of X_Gᵀ X_H masked
 *                                by +R, its columns' bits (aggregate: the shares sum to the Gram)
 *   A         initial Hessian H₀ = p̄(1−p̄)·XᵀX/m + λI over the m sample rows; BFGS state
 *             with a gradient-only Wolfe line search (models/wolfe.ts)
 *   per round r (every row-level message in parts of config.partRows rows, `chunk`):
 *   A → H     RoundStart         the round's sigmoid tolerance ε_r (1e-2 down to 1e-6 with ‖g‖∞)
 *   H → A     BasisSize          V, its number of basis vectors (metadata)
 *   H → G     HostBasis          windows (c_j, R_j), j ≤ 16, that hold every row (windows.ts), ε_r,
 *                                and per row the windowed Chebyshev basis 1_j·T_k(τ_j), k = 1..K_j,
 *                                and 1_j for all windows but the last, at 2^26, padded: F = B − B′
 *   A → H     BeaverCorrection   per row c_H = Σ_v A_v·B′_v − c_G, from the two seeds (ciphertext)
 *   G → H     Residual           the per-row coefficients of σ(u_G + c_j + R_j τ) in each window at
 *                                2^26, padded: E = C − A; and its residual share, padded:
 *                                r_G − α, r_G = Σ_v C_v·F_v + c_G + (coef_{J,0} − y)·2^52
 *   H → G     ResidualShare      r_H − β, r_H = Σ_v E_v·B′_v + c_H (r_G + r_H = (σ̂(z) − y)·2^52)
 *   G → A     GuestGradient      its shares of Xᵀ(σ̂ − y) for every weight plus the round's mask
 *   H → A     HostGradient       its shares minus the mask; A adds its own triple terms, decodes,
 *                                divides by n and adds λw: the exact gradient of the approximation
 *   A → G, H  Update             each party's own block of the move: a BFGS step or a line-search
 *                                trial along it (model)
 *   once, in the round after ‖g‖∞ first falls to hessianGradient (RoundStart and HostBasis carry
 *   `hessian: true`; protocols/vfl-lr/hessian.ts; both parties refuse a second request, which
 *   would give the arbiter XᵀWX at any point it steers to: tests/attacks/second-hessian.test.ts):
 *   H → G     HostHessianPadded  its basis vectors on the m sample rows times its columns, their
 *                                pairwise products and ones, fixed point under one-time pads from
 *                                its triple seed (ciphertext)
 *   G → H     GuestHessianPadded its per-sample σ′ coefficients times its columns, pairs and ones,
 *                                padded likewise, and fresh seeds of the output masks R (ciphertext)
 *   G, H → A  Guest/HostHessianShare  shares of the three blocks of XᵀWX over the sample rows,
 *                                W = σ′(z) on the windows' expansion (aggregate: the sum is the
 *                                block); A restarts BFGS from XᵀWX/m + λI
 *   …until ‖g‖∞ ≤ tolerance or the step is below 1e-4·max(1, ‖w‖∞), at the final tolerance, or
 *   the round limit: A → G, H Finished (stopped by the step rule, first one last Update, the full
 *   quasi-Newton step, with no gradient round after it).
 *
 * What each role receives, exactly:
 *   Guest:   public keys; a seed; the host's one-time-padded sample and columns; per round the
 *            host's windows (at most 16 intervals on a 0.5 grid, each holding a row, not which),
 *            the round's tolerance and whether it computes the Hessian, the padded basis and the
 *            host's padded residual shares; once, the host's padded Hessian side; its own moves;
 *            the final status.
 *   Host:    public keys; a seed; the guest's one-time-padded sample, columns and a mask seed; per
 *            round the padded coefficients and residual shares, the arbiter's corrections (padded
 *            by the guest's c_G), its own moves, the round's tolerance (the order of magnitude of
 *            the gradient) and whether it computes the Hessian; once, the guest's padded Hessian
 *            side and three mask seeds; the final status.
 *   Arbiter: row count, event rate, the sample Gram matrix (guest, host and cross blocks), the
 *            fixed-point bits of each party's columns, per round the basis size and the gradient of
 *            every weight (aggregates over all rows; each party's shares of it are masked by a
 *            value only the two parties know); once, the weighted Hessian XᵀWX of the sample rows
 *            at one point (one sum per feature pair, d × d, and Σσ′; a block over the size budget
 *            is not exchanged and is approximated from the sample Gram instead). From the steps it
 *            computes, it could rebuild the weights: it learns the model, as FATE's arbiter does.
 *   No role receives a raw feature, a label, a residual or a per-enterprise partial logit: every
 *   row-level value crosses under a one-time pad in Z_M that is fresh per round and part (the
 *   attack on the residual shares with a pad switched off: tests/attacks/residual-shares.test.ts).
 *
 * Threat model: semi-honest parties, arbiter not colluding with either party (with the guest it
 * knows the host's pads and reads its basis, its columns and its residual share; with the host,
 * the guest's), as with the CKKS key it held before. Pads are AES-256-CTR keystreams under seeds
 * from a cryptographic generator, read as exactly uniform residues (rejection sampling); no pad is
 * used for two values. The sums are exact: nothing is truncated or flooded, and a sum cannot wrap
 * (|Σ q·r| < 2^103 < M/2 for up to 2^22 rows, shares.ts).
 *
 * Declared limit, MALICIOUS host (measured by tests/attacks/three-party-indicator-host.test.ts,
 * which asserts the leak, not its absence, until a defence lands). The host receives its own
 * moves and keeps its own weights in plaintext, and both are functions of the labels; the arbiter
 * changes nothing there (the two-party review found the same in vfl-lr-2p). Its columns are its
 * own input and nobody else sees them: with z-scored indicator "features" (e_i − 1/n)/sd (mean 0,
 * variance 1, like any honest column) its gradient coordinate is ∝ d_i − mean(d), and at the
 * optimum λw_l ∝ y_i − σ(z_i), so the sign of each final platform weight is one row's label:
 * 40 of 40 on breast with honest messages (majority guess 29); on 6,000 default_credit rows at the
 * default λ, 40 indicator columns added to the platform's 10 real ones read 40 of 40 while the
 * model on the real columns matches the honest fit (training AUC 0.7413 against 0.7414), so the
 * bank sees nothing wrong. p_H labels per job, p_H the host's choice. (Its first move
 * alone, with a zero Gram in HostInit, gave 32 of 40: unlike the two-party host it cannot zero
 * the cross block.) No cheap check is sound: the Gram, its diagonal and the moments are reported
 * by the host itself and z-scored indicators pass them; a larger λ shrinks the weights, not their
 * signs; noise on the host's moves would have to be calibrated to a row's influence ‖x_H,i‖/n,
 * which the host sets (a scaled column beats any fixed noise); an attested minimum support per
 * column is only a claim (accountability through the signed audit chain, not prevention). What
 * would be needed, in order of cost: (1) label differential privacy at the guest (randomised
 * response on y before training: every label-dependent message is then post-processing, whatever
 * the host does; measured in plaintext on default_credit, ε = 1 flips 27% of labels, the host
 * reads 73% of them, and test AUC drops 0.007; ε = 2: 88% and 0.006; ε = 4: 98% and 0.001;
 * outside issue 14's 0.002 bound below ε ≈ 4, so an opt-in at best); (2) a host that never holds
 * its weights in the clear (weights additively shared with the guest, as SecretFlow's SS-LR, and
 * scoring done jointly, which changes online scoring); (3) proofs that the host's columns are
 * well formed (committed data, zero-knowledge range and support proofs). None is built.
 *
 * Why this shape. FATE's hetero LR uses the first-order Taylor sigmoid 0.25·z + 0.5, which costs
 * about 0.005 AUC on default_credit, and Paillier, which costs minutes per iteration. Here the
 * sigmoid is expanded per sample in the host's partial logit only (the guest knows its own), so a
 * low-degree expansion is accurate even where joint logits reach −36: each window's degree K_j is
 * the smallest that keeps the error within the round's tolerance over its half-width (both parties
 * derive it from the disclosed half-width). The windows hold every row (one window clamping the
 * rows outside it broke on special codes: u_H in [−202, 8.4] with 99.8% in [−25, 6.5]). The round
 * was CKKS until issue 14's profile: a basis vector cost a ciphertext per 4,096 rows at each of
 * three parties (encoding, zero encryption, plaintext product, ≈ 8 ms), which held default_credit
 * at 134–379× its plaintext fit; in shares a basis vector costs a few multiply-adds per row, the
 * gradient is exact (no flood: the mixed shape reaches 4.4e-4 instead of 1–4.8e-3), and the final
 * sigmoid tolerance is 1e-6 instead of 1e-4. One restart from the weighted Hessian of the sample
 * rows, once the gradient is below 0.03, saves about half the rounds (docs/perf/vfl-lr.md).
 */
import { performance } from 'node:perf_hooks';
import { cryptoRng, type Rng } from '../../engine/rng.ts';
import { createCkks } from '../he/ckks.ts';
import { MemoryTransport } from '../transport.ts';
import { VflArbiter } from './arbiter.ts';
import { DEFAULT_VFL, vflConfig, type VflConfig } from './config.ts';
import { VflGuest } from './guest.ts';
import { VflHost } from './host.ts';

export { DEFAULT_VFL, VflArbiter, VflGuest, VflHost, vflConfig, type VflConfig };

export interface VflTrainInput {
  /** Guest feature columns over the aligned training rows. */
  guest: readonly Float64Array[];
  labels: Uint8Array;
  /** Host feature columns over the same rows, same order. */
  host: readonly Float64Array[];
  config: VflConfig;
  /** The arbiter's randomness (noise flooding, the cross-Gram triple). */
  rng: Rng;
  /** The guest's secret randomness (its cross-Gram output mask); the OS generator by default. */
  guestRng?: Rng;
  /** Each party's feature names, for its refusals only (they never leave the party). */
  guestNames?: readonly string[];
  hostNames?: readonly string[];
  /** FOR THE ATTACK TESTS ONLY: false leaves a party's residual share unpadded (tests/attacks/residual-shares.test.ts). */
  padShares?: { guest?: boolean; host?: boolean };
}

export interface VflTrainResult {
  guest: VflGuest;
  host: VflHost;
  arbiter: VflArbiter;
  transport: MemoryTransport;
  seconds: number;
}

/** Run all three roles in this process over the in-memory transport. */
export async function trainInMemory(input: VflTrainInput): Promise<VflTrainResult> {
  const t0 = performance.now();
  const config = vflConfig(input.config.job, input.config);
  // Each role gets its own context, as separate processes would.
  const [cg, ch, ca] = await Promise.all([createCkks(config.params), createCkks(config.params), createCkks(config.params)]);
  const guest = new VflGuest(cg, input.guest, input.labels, config, input.guestRng ?? cryptoRng, input.padShares?.guest ?? true, input.guestNames);
  const host = new VflHost(ch, input.host, config, cryptoRng, input.hostNames, input.padShares?.host ?? true);
  const arbiter = new VflArbiter(ca, config, input.rng);
  const transport = new MemoryTransport([arbiter, guest, host]);
  await transport.run();
  return { guest, host, arbiter, transport, seconds: (performance.now() - t0) / 1000 };
}
