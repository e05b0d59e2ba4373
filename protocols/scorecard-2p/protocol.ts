/**
 * Federated scorecard between two parties, no arbiter (protocol `scorecard-2p`, with `scorecard`
 * for binning and the host's scorecard messages and `vfl-lr-2p` for training in between; issue 16
 * step 2, docs/design/two-party.md).
 *
 * Parties. Guest G (the bank): its features and the labels of the aligned rows, split into train
 * and test by the job's seed; the ONLY keys of the job (binning's CKKS key, training's CKKS key,
 * this stage's BFV key). Host H (the platform): its features of the same rows; no secret key, a
 * secret rotation A of its features from training. A coordinator, if one runs the job, sees none
 * of these messages.
 *
 * Flow.
 *   Binning   exactly as the three-party scorecard (protocols/scorecard/protocol.ts): LabelSetup,
 *             HostBinCounts, BinPlan ((ε, δ)-DP in each label), HostSelection.
 *   Training  vfl-lr-2p on the kept WOE columns (protocols/vfl-lr-2p/protocol.ts), with the
 *             scorecard's tolerances (SCORECARD_TRAINING). Each party keeps its own weights; H
 *             keeps A and G's public keys.
 *   Scorecard (H's `scorecard` messages as in the three-party mode)
 *   H → G     HostStability        PSI and CSI per kept host feature (aggregate)
 *   H → G     HostPoints           under `full` only: host bins, cut points, WOE, points (model)
 *   H → G     HostPartialScores    host points (and under `partial` its logit) per TEST row (score)
 *   H → G     HostFisherWindows    windows of its training partial logits and their σ′ degrees (aggregate)
 *   G → H     HistogramBlocks      its BFV public key, its points range width, and per block of
 *                                  R = ⌊N/L⌋ training rows Σ_r (1 + B·y_r)·X^{g_r + rL} encrypted (ciphertext)
 *   H         S = Σ_c P_c·Q_c, Q_c = Σ_r X^{h_r − rL}: the diagonal terms land in [0, L) as
 *             Σ (1 + B·y)·X^{g + h}, the cross terms of different rows in [L, N), which H pads
 *             uniformly mod t; re-randomised, flooded (histogram.ts)
 *   H → G     TrainScoreHistogram  (aggregate) G decrypts rows and events per total score: AUC,
 *                                  KS, Gini, log-loss, deciles, bands and their edges follow
 *   G → H     GuestFisherInput     [[c′_v]] per-row Chebyshev coefficients of σ′(u_G + c + Rτ) in
 *                                  H's basis, [[1, x_G]] and [[x_a·x_b]] in diagonal order (ciphertext)
 *   H         [[w]] = Σ_v B_v ⊙ [[c′_v]] = σ′(z) per row (never sent); Σw·[1, x̃, x̃x̃ᵀ] with
 *             its rotated plaintext columns; Σw·[1, x_G], Σw·x_a x_b, Σ(w ⊙ x̃_l)·x_G with G's
 *             encrypted diagonals; each re-randomised and flooded (fisher.ts)
 *   H → G     FisherBlocks         (aggregate) G decrypts, floods, assembles F̃ (host block in A's
 *                                  coordinates), inverts: the intercept's and its own SEs
 *   G → H     HostCovariance       the host block of F̃⁻¹ in rotated coordinates (aggregate)
 *   H         Aᵀ Σ̃ A: its coefficients' covariance, its standard errors
 *   H → G     HostStandardErrors   under `full` only, with HostPoints' coefficients (model)
 *   G         the report (train side from the histogram, test side from its test rows), the
 *             exports (PMML, SQL, online scoring: unchanged once each party holds its weights).
 *
 * What each party receives, exactly (beyond binning's and vfl-lr-2p's, see those headers):
 *   Host:  ciphertexts under G's BFV and CKKS keys (it holds neither secret key); the width of
 *          G's realised points range; the covariance of its own coefficients in its rotated
 *          coordinates (an aggregate of σ′ over all training rows). No label, no guest value.
 *   Guest: the score histogram by label of the training rows (per total score: rows and events),
 *          never the joint table N(g, h, y) of its points, the host's and the label (which would
 *          give it the host points of every row whose (g, y) is unique:
 *          tests/attacks/two-party-scorecard-histogram.test.ts, the pad switched off); the
 *          padded cross coefficients (uniform); the host's Fisher windows (as in training); the
 *          Fisher information with the host's features in A's coordinates; under `full` the
 *          host's standard errors (with its coefficients, already in HostPoints). As in the
 *          three-party mode: the host's partial points of TEST rows and, under `full`, its table.
 *          Every value it decrypts was re-randomised and flooded by the host after the host's
 *          plaintexts entered (circuit privacy: tests/attacks/two-party-scorecard-circuit.test.ts).
 *   Versus the three-party mode: the arbiter's view (the unlinked (logit, points, label) multiset
 *   and the Fisher blocks) moves to G, reduced to the histogram of integer points (no float
 *   logit) and the rotated Fisher matrix.
 *
 * Precision. The histogram is exact (BFV integers; the flood sits 2^30 above its noise bound and
 * 2^7 or more below Δ/2: histogram.ts). The report's training probabilities are those of the
 * integer scores (probabilityOfScore), the arbiter's were the float logits': training AUC, KS and
 * log-loss differ from the three-party report by the points' rounding (measured in
 * tests/protocols/scorecard-2p.test.ts). The Fisher weights are σ′ to FISHER_TOLERANCE.
 *
 * Threat model: semi-honest parties, as vfl-lr-2p (its declared limits apply: a malicious guest
 * chooses what it encrypts; a malicious host chooses what it returns).
 */
import { performance } from 'node:perf_hooks';
import type { Rng } from '../../engine/rng.ts';
import { IndomainError } from '../../engine/errors.ts';
import { createCkks } from '../he/ckks.ts';
import { createBfv } from '../he/bfv.ts';
import { MemoryTransport, type DeliveryRecord } from '../transport.ts';
import { vflConfig, type VflConfig } from '../vfl-lr/config.ts';
import { trainTwoPartyInMemory, type TwoPartyTrainResult } from '../vfl-lr-2p/protocol.ts';
import { assembleScorecard, disclosures, SCORECARD_TRAINING, scorecardConfig, type ScorecardInput } from '../scorecard/protocol.ts';
import { ScorecardGuest } from '../scorecard/guest.ts';
import { ScorecardHost } from '../scorecard/host.ts';
import type { ScorecardModel } from '../../models/export/model.ts';
import type { ScorecardReport } from '../../models/report.ts';
import { TwoPartyScorecardGuest } from './guest.ts';
import { TwoPartyScorecardHost, type ScorecardHostDefences, type TwoPartyTrainingHost } from './host.ts';

export { TwoPartyScorecardGuest, TwoPartyScorecardHost, type ScorecardHostDefences, type TwoPartyTrainingHost };

export interface TwoPartyScorecardInput extends Omit<ScorecardInput, 'testOnly'> {
  /** Secret randomness of each party (the OS generator by default, `rng` for both if given). */
  readonly guestRng?: Rng;
  readonly hostRng?: Rng;
  /** TEST ONLY: the host's defences of this stage (attack tests). */
  readonly hostDefences?: ScorecardHostDefences;
}

export interface TwoPartyScorecardRun {
  readonly guest: ScorecardGuest;
  readonly host: ScorecardHost;
  readonly stageGuest: TwoPartyScorecardGuest;
  readonly stageHost: TwoPartyScorecardHost;
  readonly training: TwoPartyTrainResult;
  readonly model: ScorecardModel;
  readonly report: ScorecardReport;
  readonly markdown: string;
  readonly reasons: { readonly test: string[][] };
  /** Every message delivered in the binning and scorecard stages. */
  readonly log: readonly DeliveryRecord[];
  readonly seconds: { binning: number; training: number; scorecard: number };
}

/** Run binning, two-party training and the two-party scorecard stage in this process. */
export async function scorecardTwoPartyInMemory(input: TwoPartyScorecardInput): Promise<TwoPartyScorecardRun> {
  const config = scorecardConfig(input.config.job, input.config);
  const guestRng = input.guestRng ?? input.rng;
  const hostRng = input.hostRng ?? input.rng;
  const t0 = performance.now();
  const [cg, ch] = await Promise.all([createCkks(config.params), createCkks(config.params)]);
  const guest = new ScorecardGuest(cg, input.guest, input.labels, input.guestDeclarations ?? {}, config, undefined, guestRng);
  const host = new ScorecardHost(ch, input.host, input.hostDeclarations ?? {}, config, hostRng);
  const binning = new MemoryTransport([guest, host]);
  await binning.run();
  if (host.kept.length === 0) throw new IndomainError('SC_NO_FEATURES', 'no host feature passed selection', { field: 'host' });
  const t1 = performance.now();

  const lrConfig: VflConfig = vflConfig(`${config.job}/lr`, { ...SCORECARD_TRAINING, ...(input.training ?? {}) });
  const training = await trainTwoPartyInMemory({ guest: guest.trainColumns(), labels: input.labels.train, host: host.trainColumns(), config: lrConfig, guestRng, hostRng });
  const t2 = performance.now();
  const [ck, bfv] = await Promise.all([createCkks(lrConfig.params), createBfv()]);
  const keys = training.guest.keyOwner!;
  const trained: TwoPartyTrainingHost = { rotation: training.host.rotation, guestKeys: training.host.guestKeys! };
  TwoPartyScorecardGuest.setModel(guest, ck, training.guest.weights, keys);
  TwoPartyScorecardHost.setModel(host, ck, training.host.weights, trained.guestKeys);
  const stageGuest = new TwoPartyScorecardGuest(ck, bfv, guest, keys, lrConfig, config, guestRng);
  const stageHost = new TwoPartyScorecardHost(ck, bfv, host, trained, lrConfig, config, hostRng, input.hostDefences);
  const final = new MemoryTransport([stageGuest, stageHost]);
  await final.run();
  if (!stageGuest.done) throw new IndomainError('SC_WRONG_STAGE', 'the two-party scorecard stage ended before the guest finished');
  const log = [...binning.log, ...final.log];
  const { model, report, markdown, reasons } = assembleScorecard(guest, config, disclosures([...log, ...training.transport.log]));
  const t3 = performance.now();
  return {
    guest,
    host,
    stageGuest,
    stageHost,
    training,
    model,
    report,
    markdown,
    reasons,
    log,
    seconds: { binning: (t1 - t0) / 1000, training: (t2 - t1) / 1000, scorecard: (t3 - t2) / 1000 },
  };
}
