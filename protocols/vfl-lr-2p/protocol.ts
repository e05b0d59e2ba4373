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
 *          two-party-guest.test.ts). Every value it decrypts is an aggregate over all rows,
 *          re-randomised and flooded per copy by the host, so the decryption error carries no
 *          trace of the host's plaintexts (circuit privacy; the same test).
 *   Neither party receives a raw feature, a label, a residual or a per-row partial logit of the
 *   other. What the guest learns exceeds the three-party guest's (which saw no gradient): it
 *   takes the arbiter's place, and the rotation is what keeps the host's feature-level model
 *   and gradients from it.
 *
 * Threat model: semi-honest parties. The host's privacy against the guest rests on A staying
 * secret (drawn from the host's secret generator, never sent) and on the floods; the guest's
 * against the host on CKKS (128-bit, `ckks-n8192-l1`) and on the key never leaving the guest.
 * The guest knows the encryption noise of every ciphertext it made; where that noise meets a host
 * plaintext or the residual it must stay far below the flood, which fixes the scales (scales.ts:
 * its columns at 2^40, not the operand scale 2^30).
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
  const guest = new TwoPartyGuest(cg, input.guest, input.labels, config, input.guestRng ?? cryptoRng);
  const host = new TwoPartyHost(ch, input.host, config, input.hostRng ?? cryptoRng, undefined, input.hostDefences);
  const transport = new MemoryTransport([guest, host]);
  await transport.run();
  return { guest, host, transport, seconds: (performance.now() - t0) / 1000 };
}
