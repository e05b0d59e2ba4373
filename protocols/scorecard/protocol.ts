/**
 * Federated scorecard (protocol `scorecard`, with `vfl-lr` for the training in between).
 *
 * Parties. Guest G (the bank): its features and the labels of the aligned rows, split into train
 * and test by the job's seed. Host H (the platform): its features of the same rows. Arbiter A (the
 * coordinator): no data; it holds vfl-lr's CKKS key pair and, as in training, learns the model.
 * G owns the binning stage's CKKS key pair (N = 8192, 128-bit); the Fisher information is computed
 * under A's key.
 *
 * Flow.
 *   Binning.
 *   G         bins its own features with its labels: equal-frequency fine bins, small bins merged,
 *             then merged to monotone (or declared U-shaped) WOE, at most `maxBins`.
 *   G → H     LabelSetup      public + Galois keys, [[y]] over the training rows (ciphertext)
 *   H         fine bins of its features, small bins merged before anything is counted;
 *             [[Σ_{i∈b} y_i]] for every fine bin b by diagonal packing (one level), flooded
 *   H → G     HostBinCounts   rows per fine bin and the encrypted event counts (aggregate)
 *   G         decrypts, rounds to integers; adds Gaussian noise to every fine-bin event count of
 *             all k host features at once (σ = √k·√(2 ln(1.25/δ))/ε, clipped to [0, rows of
 *             the bin]; label-privacy.ts) and plans the host's coarse bins, WOE and IV from the
 *             noised counts only
 *   G → H     BinPlan         the merge of fine bins, coarse WOE, IV ((ε, δ)-DP aggregate)
 *   H         applies the plan, WOE-encodes, selects (IV, correlation, VIF) among its features
 *   H → G     HostSelection   kept and dropped features with reasons (metadata)
 *   G         selects among its own features.
 *   Training: vfl-lr on the WOE-encoded kept features (see protocols/vfl-lr/protocol.ts).
 *   Scorecard. No per-row training value of H reaches G: what the report needs of the training
 *   rows is computed by A from padded shares, and G receives aggregates only.
 *   H → G     HostStability   PSI and CSI per kept host feature (aggregate)
 *   H → G     HostPoints      under `full` only: host bins with cut points, WOE, points (model)
 *   H → G     HostPartialScores  host partial logit and points per TEST row only (score)
 *   G → H     ShareSeed       32 random bytes; both derive a permutation π of the training rows and
 *                             one-time pads r mod 2^52 from it (protocols/scorecard/shares.ts)
 *   G → A     GuestTrainShares  per position k: fix(u_G + β₀) + r, fix(P_G + base) + r′ of row
 *                             π(k), and its label (masked; the labels unlinked, not hidden)
 *   H → A     HostTrainShares   fix(u_H) − r, fix(P_H) − r′ of row π(k) (ciphertext: one-time pad)
 *   A         joint logit z_k, total points and label per position (unlinked to any row); AUC, KS,
 *             Gini, log-loss, deciles, score bands from the points' percentiles, per group rows,
 *             events, point range, Σp; w_k = p_k(1−p_k)
 *   A → G     TrainSummary    those aggregates (aggregate)
 *   A → G, H  FisherWeights   [[w]] in π order under A's key (ciphertext)
 *   H → A     FisherSums      [[Σw·x_H]], [[Σw·x_H·x_Hᵀ]] (aggregate after decryption, flooded)
 *   H → G     HostFisherVectors  [[w ⊙ x_Hl]] per kept host feature, re-randomised (ciphertext)
 *   G → A     FisherSums      [[Σw]], [[Σw·x_G]], [[Σw·x_G·x_Gᵀ]], [[Σ w·x_G·x_Hl]] (aggregate, flooded)
 *   A → G     FisherMatrix    Xᵀ·diag(w)·X over [1, X_G, X_H] (aggregate)
 *   G         standard errors from its inverse; the report (train side from TrainSummary, test
 *             side from its own test rows) and exports; scores and reason codes of test rows.
 *
 * What each party receives, exactly:
 *   Host:    G's public keys and ciphertexts under G's key; the merge plan and WOE of its own bins
 *            and its features' IV, all computed from event counts with Gaussian noise: BinPlan is
 *            (ε, δ)-differentially private in each training label (`labelPrivacy`, default
 *            ε = 1, δ = 1e-6; one label moves one fine count per host feature, L2 sensitivity
 *            √k, released once; label-privacy.ts). Exact WOE would give it each bin's event
 *            count and, by solving the subset sums, every label
 *            (tests/attacks/binplan-labels.test.ts). Its points are computed from the same
 *            private WOE. The guarantee covers binning; the host's coefficients from vfl-lr
 *            training are label-derived and not covered by it;
 *            the share seed (no data); [[w]] under A's key; through vfl-lr, ciphertexts and its
 *            own steps.
 *   Guest:   per host feature, the rows and events of each fine bin (every bin at least
 *            max(minBinShare·n, minBinRows) rows) but no cut point; the host's selection log;
 *            after training, the host's partial logit and points for each TEST enterprise (the
 *            disclosure any federated scoring makes) and the range of its points; the host's
 *            stability indices; the training sample's report aggregates; the Fisher matrix
 *            (weighted sums of host features over all training rows); ciphertexts under A's key;
 *            under `full`, the host's bins and points, with which each test enterprise's partial
 *            points narrow down its host bins and its float partial logit gives every one away
 *            (see server/scoring/bank-scorer.ts and tests/attacks/decode-platform-bins). Nothing per training
 *            row of the host (tests/attacks/train-rows.test.ts).
 *   Arbiter: the multiset of (joint logit, total points, label) of the training rows in an order
 *            it cannot link to any row or enterprise (π and the pads are G's and H's only), hence
 *            the training event rate and score distribution; the Fisher blocks (sums over all
 *            rows). It already learns the model in vfl-lr.
 * Neither G nor H receives the other's raw feature values, nor (host) any label or residual.
 *
 * Threat model: semi-honest, no collusion of A with G or H (A with H would link every label to its
 * enterprise through π; A with G could decrypt H's [[w ⊙ x_H]]), as in vfl-lr.
 */
import { performance } from 'node:perf_hooks';
import type { Rng } from '../../engine/rng.ts';
import { binLabels } from '../../models/binning.ts';
import { binShares, characteristicStability, stabilityIndex } from '../../models/stability.ts';
import { buildReport, reportMarkdown, type CharacteristicRow, type ScorecardReport } from '../../models/report.ts';
import { reasonCodes } from '../../models/scorecard.ts';
import { HOST_PARTIAL_FIELD, type ExportCharacteristic, type ScorecardModel } from '../../models/export/model.ts';
import { createCkks } from '../he/ckks.ts';
import { messageSpec } from '../message.ts';
import { MemoryTransport, type DeliveryRecord } from '../transport.ts';
import { trainInMemory, vflConfig, type VflConfig, type VflTrainResult } from '../vfl-lr/protocol.ts';
import { ScorecardArbiter } from './arbiter.ts';
import { IndomainError } from '../../engine/errors.ts';
import { scorecardConfig, type FeatureDeclarations, type ScorecardConfig } from './config.ts';
import type { SideData } from './common.ts';
import { ScorecardGuest } from './guest.ts';
import { ScorecardHost, type ScorecardTestSwitches } from './host.ts';

export { ScorecardArbiter, ScorecardGuest, ScorecardHost, scorecardConfig, type ScorecardConfig, type FeatureDeclarations };

export interface ScorecardInput {
  readonly guest: SideData;
  readonly labels: { readonly train: Uint8Array; readonly test: Uint8Array };
  readonly host: SideData;
  readonly guestDeclarations?: FeatureDeclarations;
  readonly hostDeclarations?: FeatureDeclarations;
  readonly config: ScorecardConfig;
  /** Overrides for the vfl-lr training stage. */
  readonly training?: Partial<VflConfig>;
  /** Randomness for every party's noise flooding. */
  readonly rng: Rng;
  /**
   * TEST ONLY (tests/attacks/train-rows.test.ts): `trainRowsToBank` restores the old disclosure of
   * the host's training partials to the bank; `plainFisherVectors` skips the re-randomisation of
   * the host's [[w·x_Hl]]; (tests/attacks/binplan-labels.test.ts) `exactBinPlan` makes the guest
   * plan the host's bins from exact event counts, without label-privacy noise. Not reachable from
   * a job spec or request.
   */
  readonly testOnly?: ScorecardTestSwitches;
}

export interface ScorecardRun {
  readonly guest: ScorecardGuest;
  readonly host: ScorecardHost;
  readonly arbiter: ScorecardArbiter;
  readonly training: VflTrainResult;
  readonly model: ScorecardModel;
  readonly report: ScorecardReport;
  readonly markdown: string;
  /** Per test row: reason-code fields, worst first. */
  readonly reasons: { readonly test: string[][] };
  /** Every message delivered in the binning and scorecard stages. */
  readonly log: readonly DeliveryRecord[];
  readonly seconds: { binning: number; training: number; scorecard: number };
}

/** Run binning, training and the scorecard stage with all parties in this process. */
export async function scorecardInMemory(input: ScorecardInput): Promise<ScorecardRun> {
  const config = scorecardConfig(input.config.job, input.config);
  const t0 = performance.now();
  const [cg, ch] = await Promise.all([createCkks(config.params), createCkks(config.params)]);
  const guest = new ScorecardGuest(cg, input.guest, input.labels, input.guestDeclarations ?? {}, config, undefined, input.rng, input.testOnly);
  const host = new ScorecardHost(ch, input.host, input.hostDeclarations ?? {}, config, input.rng, input.testOnly);
  const binning = new MemoryTransport([guest, host]);
  await binning.run();
  if (host.kept.length === 0) throw new IndomainError('SC_NO_FEATURES', 'no host feature passed selection', { field: 'host' });
  const t1 = performance.now();

  // vfl-lr's defaults, as the server's scorecard pipeline: on default_credit the same training time
  // as the one-window preset this replaced (12.9 s, 9 rounds vs 12.7 s, 5), test AUC 0.7685 vs 0.7682.
  const lrConfig = vflConfig(`${config.job}/lr`, input.training ?? {});
  const training = await trainInMemory({
    guest: guest.trainColumns(),
    labels: input.labels.train,
    host: host.trainColumns(),
    config: lrConfig,
    rng: input.rng,
  });
  const t2 = performance.now();
  guest.setModel(training.guest.weights[0]!, training.guest.weights.slice(1), training.guest.arbiterKeys!);
  host.setModel(training.host.weights.slice(), training.host.arbiterKeys!);
  const arbiter = new ScorecardArbiter(await createCkks(lrConfig.params), training.arbiter.keyOwner!, config);
  const final = new MemoryTransport([guest, host, arbiter]);
  await final.run();
  const log = [...binning.log, ...final.log];
  const { model, report, markdown, reasons } = assembleScorecard(guest, config, disclosures([...log, ...training.transport.log]));
  const t3 = performance.now();
  return {
    guest,
    host,
    arbiter,
    training,
    model,
    report,
    markdown,
    reasons,
    log,
    seconds: { binning: (t1 - t0) / 1000, training: (t2 - t1) / 1000, scorecard: (t3 - t2) / 1000 },
  };
}

/**
 * What the guest delivers once the scorecard stage is finished: the exportable model, the
 * validation report (JSON and Markdown) and the reason codes of the development sample.
 * `ledger` lists what each party received (see {@link disclosures}).
 */
export function assembleScorecard(guest: ScorecardGuest, config: ScorecardConfig, ledger: ReturnType<typeof disclosures>) {
  const model = exportModel(guest, config);
  const reasons = { test: rowReasons(guest, model) };
  const report = buildReport({
    scaling: config.scaling,
    policy: config.policy,
    train: guest.trainSummary!,
    bandEdges: guest.bandEdges!,
    test: guest.test!,
    characteristics: characteristicRows(guest, config),
    coefficients: coefficientRows(guest),
    stability: stabilityRows(guest),
    dropped: [
      ...guest.selection!.dropped.map((d) => ({ ...d, party: 'guest' as const })),
      ...guest.hostSelection!.dropped.map((d) => ({ ...d, party: 'host' as const })),
    ],
    disclosures: ledger,
  });
  return { model, report, markdown: reportMarkdown(report), reasons };
}

/** The scorecard as the guest can export it: its own characteristics, and the host's under `full`. */
function exportModel(guest: ScorecardGuest, c: ScorecardConfig): ScorecardModel {
  const own: ExportCharacteristic[] = guest.kept.map((f, j) => ({
    field: `guest_${f.name}`,
    party: 'guest',
    spec: f.spec,
    binLabels: binLabels(f.spec),
    woe: [...f.woe],
    coefficient: guest.weights[j]!,
    points: guest.points[j]!,
  }));
  const theirs: ExportCharacteristic[] = (c.policy === 'full' ? guest.hostCharacteristics! : []).map((h) => ({
    field: `host_${h.feature}`,
    party: 'host',
    spec: { kind: h.kind, cuts: h.cuts, categories: h.categories, bins: h.bins, missingOwn: h.missingOwn, missingBin: h.missingBin, otherBin: h.otherBin },
    binLabels: h.labels,
    woe: h.woe,
    coefficient: h.coefficient,
    points: h.points,
  }));
  return {
    name: c.job,
    scaling: c.scaling,
    policy: c.policy,
    intercept: guest.intercept,
    basePoints: guest.base,
    characteristics: [...own, ...theirs],
    hostPartial: c.policy === 'partial' ? { field: HOST_PARTIAL_FIELD, maxPoints: guest.hostPointRange.max, minPoints: guest.hostPointRange.min } : null,
    reasonCodes: c.reasonCodes,
  };
}

/**
 * Reason codes per test row, computed by the guest: its own characteristics bin by bin, and the
 * platform as one characteristic (its partial points against their maximum), since the guest
 * never learns which host bin an enterprise falls in. Training rows have none: the guest holds no
 * platform value of them.
 */
function rowReasons(guest: ScorecardGuest, model: ScorecardModel): string[][] {
  const kept = guest.kept;
  const scores = guest.test!;
  const n = scores.labels.length;
  const names = [...kept.map((f) => `guest_${f.name}`), HOST_PARTIAL_FIELD];
  const best = guest.points.map((p) => Math.max(...p));
  const out: string[][] = new Array(n);
  const lost = new Float64Array(kept.length + 1);
  for (let i = 0; i < n; i++) {
    kept.forEach((f, j) => {
      lost[j] = best[j]! - guest.points[j]![f.testBins[i]!]!;
    });
    lost[kept.length] = guest.hostPointRange.max - scores.hostPoints[i]!;
    out[i] = reasonCodes(lost, model.reasonCodes).map((j) => names[j]!);
  }
  return out;
}

function characteristicRows(guest: ScorecardGuest, c: ScorecardConfig): CharacteristicRow[] {
  const keptG = new Set(guest.selection!.kept);
  const keptH = new Set(guest.hostSelection!.kept);
  const own = guest.features.map((f, j): CharacteristicRow => {
    const plan = guest.ownPlans[j]!;
    const k = guest.kept.findIndex((x) => x.name === f.name);
    return {
      name: `guest_${f.name}`,
      party: 'guest',
      binLabels: binLabels(f.spec),
      rows: plan.totals,
      events: plan.events,
      woe: plan.woe,
      ivBins: plan.ivBins,
      iv: plan.iv,
      points: k >= 0 ? guest.points[k]! : null,
      kept: keptG.has(f.name),
    };
  });
  const shared = new Map((guest.hostCharacteristics ?? []).map((h) => [h.feature, h]));
  const theirs = guest.hostFeatures.map((h): CharacteristicRow => {
    const s = c.policy === 'full' ? shared.get(h.name) : undefined;
    const bins = h.plan.woe.length;
    return {
      name: `host_${h.name}`,
      party: 'host',
      binLabels: s ? s.labels : Array.from({ length: bins }, (_, b) => `platform bin ${b + 1}`),
      // The bank's exact label aggregates over the coarse bins; the model used the private WOE.
      rows: h.exact.totals,
      events: h.exact.events,
      woe: h.exact.woe,
      ivBins: h.exact.ivBins,
      iv: h.exact.iv,
      model: { woe: h.plan.woe, iv: h.plan.iv, note: modelWoeNote(c, guest.labelNoiseSigma) },
      points: s ? s.points : null,
      kept: keptH.has(h.name),
    };
  });
  return [...own, ...theirs];
}

/** Which WOE a platform characteristic's model used: the one computed from noised counts. */
function modelWoeNote(c: ScorecardConfig, sigma: number): string {
  if (sigma === 0) return 'the exact WOE (label-privacy noise switched off: test only)';
  const p = c.labelPrivacy;
  return `computed from (ε = ${p.epsilon}, δ = ${p.delta})-differentially private event counts (Gaussian noise σ = ${sigma.toFixed(2)} per fine bin), as the platform received it`;
}

function coefficientRows(guest: ScorecardGuest) {
  const se = guest.standardErrors!;
  const g = guest.kept;
  const hostNames = guest.hostSelection!.kept;
  const hostWeights = guest.hostCharacteristics?.map((h) => h.coefficient);
  return [
    { name: '(intercept)', party: 'intercept' as const, estimate: guest.intercept, standardError: se[0]!, vif: null },
    ...g.map((f, j) => ({ name: `guest_${f.name}`, party: 'guest' as const, estimate: guest.weights[j]!, standardError: se[1 + j]!, vif: guest.selection!.vif[f.name]! })),
    // Under `partial` the bank does not see host coefficients: the estimate is withheld (NaN).
    ...hostNames.map((n, l) => ({
      name: `host_${n}`,
      party: 'host' as const,
      estimate: hostWeights ? hostWeights[l]! : NaN,
      standardError: se[1 + g.length + l]!,
      vif: guest.hostSelection!.vif[n]!,
    })),
  ];
}

function stabilityRows(guest: ScorecardGuest) {
  const own = guest.kept.map((f, j) => {
    const a = binShares(f.trainBins, f.spec.bins);
    const b = binShares(f.testBins, f.spec.bins);
    return { feature: `guest_${f.name}`, party: 'guest' as const, stability: stabilityIndex(a, b), csi: characteristicStability(a, b, guest.points[j]!) };
  });
  const h = guest.hostStability!;
  return [...own, ...h.features.map((f, j) => ({ feature: `host_${f}`, party: 'host' as const, stability: h.stability[j]!, csi: h.csi[j]! }))];
}

/** The leakage ledger of a run: what each receiver got, by declared message type. */
export function disclosures(log: readonly { to: string; protocol: string; type: string; privacy: string }[]) {
  const m = new Map<string, { to: string; type: string; privacy: string; count: number; discloses: string }>();
  for (const r of log) {
    const k = `${r.to}|${r.protocol}/${r.type}`;
    const e = m.get(k);
    if (e) e.count++;
    else m.set(k, { to: r.to, type: `${r.protocol}/${r.type}`, privacy: r.privacy, count: 1, discloses: messageSpec(r.protocol, r.type).discloses });
  }
  return [...m.values()];
}
