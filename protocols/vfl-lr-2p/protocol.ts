/**
 * Two-party vertical logistic regression under CKKS, no arbiter (protocol `vfl-lr-2p`).
 *
 * Parties. Guest G (the bank): aligned rows' features X_G (an intercept column first), labels y,
 * and the ONLY CKKS key pair of the job. Host H (the platform): features X_H (p_H columns) of the
 * same rows in the same order (protocols/psi). No third party holds a key or sees a value: a
 * coordinator, if one runs the job, orchestrates stages and sees none of these messages.
 * Objective: mean log-loss + (λ/2)‖w‖² over feature weights, as `vfl-lr`.
 * Design: docs/design/two-party.md (after FATE SSHE-LR, CAESAR and SecretFlow HESS-LR: HE for
 * "my plaintext times your ciphertext", masking before the key owner decrypts anything; unlike
 * them, the per-sample sigmoid expansion of `vfl-lr` and a second-order optimiser).
 *
 * Setup.
 *   H        draws a secret Haar-random orthogonal A (p_H × p_H) from its secret generator and
 *            trains on the rotated columns X̃_H = X_H Aᵀ; ‖w̃_H‖ = ‖w_H‖, so the L2 objective is
 *            unchanged and its weights are w_H = Aᵀ w̃_H (only H can undo the rotation).
 *   G → H    TwoPartySetup     G's public, Galois and relinearisation keys, row count, sample
 *                              size m (metadata)
 *   G → H    GuestSample       [[x_G,j]] over the first m ≤ 4096 rows, one ciphertext per guest
 *                              column (ciphertext, under G's key)
 *   G → H    GuestColumns      [[X_G/√n]] over all rows in diagonal order (W_G ciphertexts per
 *                              4,096-row chunk, W_G = guest columns rounded up to a power of two),
 *                              encrypted once per job (ciphertext, under G's key)
 *   H → G    HostSampleGram    X̃_Hᵀ X̃_H over the sample rows, and [[X_Gᵀ X̃_H/√m]] re-randomised
 *                              and flooded per copy (aggregate)
 *   G        initial Hessian H₀ = p̄(1−p̄)·XᵀX/m + λI in the rotated coordinates; BFGS with the
 *            gradient-only Wolfe line search (models/wolfe.ts), as the three-party arbiter
 * Per round r:
 *   G → H    RoundStart        the round's sigmoid tolerance ε_r (the ladder of vfl-lr)
 *   H → G    HostWindows       windows (c_j, R_j), j ≤ 16, holding every row of u_H = X̃_H w̃_H
 *                              (protocols/vfl-lr/windows.ts); both sides derive each degree K_j
 *   G → H    GuestCoefficients [[c_v]], the per-row Chebyshev coefficients of σ(u_G + c_j + R_j τ)
 *                              − y in H's basis B_v (v = 0 the constant, the label folded into it;
 *                              then per window 1_j·T_k(τ_j), k ≤ K_j, and 1_j but the last's)
 *                              (ciphertext, under G's key)
 *   H        knows every B_v in plaintext; with plaintext × ciphertext products, one ciphertext ×
 *            ciphertext product and rotations:
 *              [[d]] = Σ_v B_v ⊙ [[c_v]]        (the residual σ(z) − y per row, never sent)
 *              [[g̃_H]] = X̃_Hᵀ[[d]]/√n           (protocols/he/packing.ts)
 *              [[g_G]] = [[X_G/√n]]ᵀ[[d]]        (G's encrypted diagonals, common.ts)
 *            then re-randomises both and floods each per copy (protocols/he/ckks.ts rerandomize)
 *   H → G    TwoPartyGradient  the two aggregates (aggregate after decryption)
 *   G        decrypts, floods again before use, adds λw, takes the BFGS step (or line-search trial)
 *            in the rotated coordinates, keeps its own block
 *   G → H    Update            H's block of the move, in rotated coordinates (model)
 *   …until ‖g‖∞ ≤ max(tol, 3·flood) or the step is below stepTolerance·max(1, ‖w‖∞) at the final
 *   tolerance, or the round limit: G → H Finished.
 *
 * What each party receives, exactly:
 *   Host:  G's public keys; ciphertexts under G's key (semantically secure to anyone without the
 *          secret key; it holds none, and nothing it receives is in the span of what it sent:
 *          tests/attacks/two-party-host.test.ts); per round the tolerance (the order of magnitude
 *          of the gradient) and its own moves in rotated coordinates, which it rotates back; the
 *          final status. It learns its own model, nothing about labels or guest features.
 *   Guest: the sample Gram of the rotated host columns (A G_H Aᵀ: eigenvalues, not which platform
 *          feature carries what) and the cross Gram of its sample columns with them (sums over m
 *          rows); per round the host's windows (at most 16 intervals on a 0.5 grid each holding a
 *          row, not which) and both gradients: its own, and the host's in the secret orthonormal
 *          basis (norms and inner products of the host gradients, not which feature carries
 *          what); hence the joint BFGS trajectory in those coordinates and the host's rotated
 *          weights w̃_H = A w_H, whose correlation with w_H is at chance (tests/attacks/
 *          two-party-guest.test.ts) to a guest who knows nothing of the platform's feature
 *          statistics (see the threat model). Every value an honest guest decrypts is an
 *          aggregate over all rows, re-randomised and flooded per copy by the host, so the
 *          decryption error carries no trace of the host's plaintexts (circuit privacy; the same
 *          test); a malicious guest's is not (see the threat model).
 *   Against semi-honest parties, neither receives a raw feature, a label, a residual or a per-row partial logit of the
 *   other. What the guest learns exceeds the three-party guest's (which saw no gradient): it
 *   takes the arbiter's place, and the rotation is what keeps the host's feature-level model
 *   and gradients from it.
 *
 * Threat model: semi-honest parties WITHOUT auxiliary knowledge of the other's data. The host's
 * privacy against the guest rests on A staying secret (drawn from the host's secret generator,
 * never sent) and on the floods; the guest's against the host on CKKS (128-bit,
 * `ckks-n8192-l1`) and on the key never leaving the guest. Declared limits, each measured by an
 * attack test that asserts the leak (not its absence) until a defence lands:
 *   - Semi-honest guest WITH the platform's second-order statistics (a published correlation
 *     matrix of the bureau features, or the Gram of other rows): A = Ṽ S Vᵀ from the eigenvectors
 *     of the plaintext A G Aᵀ in HostSampleGram and of G, signs S from the cross Gram K Aᵀ; then
 *     w_H = Aᵀ w̃_H, the platform's weight per feature. Measured: exact (max error ≤ 1e-14) with the
 *     sample Gram, correlation 0.99 with the Gram of 8,192 other rows of default_credit
 *     (tests/attacks/two-party-rotation-recovery.test.ts). Where p_G ≥ p_H and the guest knows
 *     K, the cross Gram alone fixes A (least squares); and the BFGS secant pairs approach
 *     A H_HH Aᵀ over the rounds, so dropping the Gram from the message would slow this, not stop
 *     it. The rotation hides the platform's model only from a guest who knows nothing of the
 *     platform's feature statistics.
 *   - MALICIOUS guest: the host returns X̃_Hᵀ v for whatever v the guest encrypted and cannot see
 *     v. Indicator columns e_i in GuestSample return the rotated platform row x̃_i = A x_{H,i} for
 *     each of up to m = min(n, 4096) rows in ONE message (host cost ≈ 0.5 s a row); c_0 = √n·e_i
 *     in GuestCoefficients returns one more row (any of the n) per round. Without A this gives
 *     every sample row's norm and, with the guest's w̃_H, its platform partial logit
 *     x_{H,i}·w_H exactly (to 4e-5); with p_H known platform rows (its own customers) or the
 *     statistics above, A and so every row's plaintext platform values (to 5e-3 on standardised
 *     breast). The flood is sized to the decryption noise, not to one row's effect on a result,
 *     and the guest can scale v at will, so no flood the host can afford hides a row; a defence
 *     needs the guest to prove its ciphertexts well-formed (|d_i| ≤ 1, columns committed): not
 *     built (tests/attacks/two-party-indicator-guest.test.ts).
 *   - MALICIOUS host: it receives its own moves and weights in plaintext, and those are functions
 *     of the labels. With indicator columns e_{i_l} as its "features" (the guest cannot see them),
 *     the sign of each final platform weight is the label of row i_l (40 of 40 on breast, honest
 *     messages); sending a zero Gram and zero cross block as well, the sign of its FIRST move
 *     gives them after one round (40 of 40). p_H labels per job, p_H the host's own choice. The
 *     three-party vfl-lr hands the host its own moves too, and the final-weight leak holds there
 *     (40 of 40, tests/attacks/three-party-indicator-host.test.ts). Worse, the guest is a decryption
 *     oracle for the host: it decrypts whatever the host returns as "its gradient" and sends back
 *     a move that, with a zero Gram and cross block, is −α·(that value)/λ. Returning the guest's
 *     own encrypted column diagonal (no computation at all) read 14 of the guest's per-row feature
 *     values to about 3e-5 from the first move, the query amplified 2^8 times by adding the
 *     ciphertext to itself (the intercept slot calibrates α); [[c_0]] (which
 *     carries −y) would give labels the same way, and any homomorphic function of the guest's
 *     ciphertexts too. Up to p_H values a job, and the guest checks p_H against nothing (any
 *     square Gram is accepted). A defence must bound what the host's moves can carry (a declared
 *     p_H, a check of the host's gradient against its claimed Gram, differentially private
 *     moves): not built (tests/attacks/two-party-indicator-host.test.ts).
 *   - Scales: the guest knows the encryption noise of every ciphertext it made; where that noise
 *     meets a host plaintext or the residual it must stay far below the flood, which fixes the
 *     scales (scales.ts: its columns at 2^40, not the operand scale 2^30).
 *
 * Cost. The design (docs/design/two-party.md) had G encrypt [[x_G,j ⊙ c_v]] for every guest
 * column and basis vector each round: (V + 1)(1 + W_G) ciphertexts per chunk, measured 2.7× the
 * three-party time and 58 MB a round on 8,192 rows. Here G encrypts its columns once and only
 * the V + 1 coefficient vectors per chunk and round (symmetric encryptions with a seeded half,
 * common.ts OwnerEncryptor); H pays W_G ciphertext products per chunk and W_G relinearisations
 * per round instead, which is cheaper than the encryptions they replace.
 */
import { performance } from 'node:perf_hooks';
import { cryptoRng, type Rng } from '../../engine/rng.ts';
import { createCkks } from '../he/ckks.ts';
import { MemoryTransport } from '../transport.ts';
import { vflConfig, type VflConfig } from '../vfl-lr/config.ts';
import { TwoPartyGuest } from './guest.ts';
import { TwoPartyHost, type HostDefences } from './host.ts';

export { TwoPartyGuest, TwoPartyHost, type HostDefences };

export interface TwoPartyTrainInput {
  guest: readonly Float64Array[];
  labels: Uint8Array;
  host: readonly Float64Array[];
  config: VflConfig;
  /** The guest's secret randomness (release floods); the OS generator by default. */
  guestRng?: Rng;
  /** The host's secret randomness (rotation, floods); the OS generator by default. */
  hostRng?: Rng;
  /** FOR THE ATTACK TESTS ONLY: the host's defences (tests/attacks/two-party-*.test.ts). */
  hostDefences?: HostDefences;
  /** Each party's feature names, for its refusals only. */
  guestNames?: readonly string[];
  hostNames?: readonly string[];
}

export interface TwoPartyTrainResult {
  guest: TwoPartyGuest;
  host: TwoPartyHost;
  transport: MemoryTransport;
  seconds: number;
}

/** Run both roles in this process over the in-memory transport. */
export async function trainTwoPartyInMemory(input: TwoPartyTrainInput): Promise<TwoPartyTrainResult> {
  const t0 = performance.now();
  const config = vflConfig(input.config.job, input.config);
  const [cg, ch] = await Promise.all([createCkks(config.params), createCkks(config.params)]);
  const guest = new TwoPartyGuest(cg, input.guest, input.labels, config, input.guestRng ?? cryptoRng, input.guestNames);
  const host = new TwoPartyHost(ch, input.host, config, input.hostRng ?? cryptoRng, input.hostNames, input.hostDefences);
  const transport = new MemoryTransport([guest, host]);
  // The guest's own refusal (its features) before the host's, which its Finished triggers.
  await transport.run().catch((e: unknown) => {
    throw guest.refusal ?? e;
  });
  if (guest.refusal) throw guest.refusal;
  return { guest, host, transport, seconds: (performance.now() - t0) / 1000 };
}
