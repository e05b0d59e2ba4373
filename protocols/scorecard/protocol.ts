/**
 * Federated scorecard (protocol `scorecard`, with `vfl-lr` for the training in between).
 *
 * Parties. Guest G (the bank): its features and the labels of the aligned rows, split into train
 * and test by the job's seed. Host H (the platform): its features of the same rows. G owns this
 * protocol's CKKS key pair (N = 8192, 128-bit); training uses the arbiter's key (vfl-lr).
 *
 * Flow.
 *   Binning.
 *   G         bins its own features with its labels: equal-frequency fine bins, small bins merged,
 *             then merged to monotone (or declared U-shaped) WOE, at most `maxBins`.
 *   G → H     LabelSetup      public + Galois keys, [[y]] over the training rows (ciphertext)
 *   H         fine bins of its features, small bins merged before anything is counted;
 *             [[Σ_{i∈b} y_i]] for every fine bin b by diagonal packing (one level), flooded
 *   H → G     HostBinCounts   rows per fine bin and the encrypted event counts (aggregate)
 *   G         decrypts, rounds to integers, plans the host's coarse bins, computes WOE and IV
 *   G → H     BinPlan         the merge of fine bins, coarse WOE, IV (aggregate)
 *   H         applies the plan, WOE-encodes, selects (IV, correlation, VIF) among its features
 *   H → G     HostSelection   kept and dropped features with reasons (metadata)
 *   G         selects among its own features.
 *   Training: vfl-lr on the WOE-encoded kept features (see protocols/vfl-lr/protocol.ts).
 *   Scorecard.
 *   H → G     HostStability   PSI and CSI per kept host feature (aggregate)
 *   H → G     HostPoints      under `full` only: host bins with cut points, WOE, points (model)
 *   H → G     HostPartialScores  host partial logit and points per development-sample row (score)
 *   G → H     FisherRequest   [[p(1−p)]] and [[p(1−p)·x_Gj]] (ciphertext)
 *   H → G     FisherBlocks    [[X_Hᵀ diag(p(1−p)) X_H]], [[X_Hᵀ p(1−p)]], [[X_Gᵀ diag(p(1−p)) X_H]] (aggregate, flooded)
 *   G         standard errors from the inverse Fisher information; the report and exports.
 *
 * What each party receives, exactly:
 *   Host:  G's public keys and ciphertexts under G's key; the merge plan and WOE of its own bins
 *          and its features' IV (label aggregates per host bin, which its points reveal anyway);
 *          through vfl-lr, ciphertexts and its own steps.
 *   Guest: per host feature, the rows and events of each fine bin (every bin at least
 *          max(minBinShare·n, minBinRows) rows) but no cut point; the host's selection log;
 *          after training, the host's partial logit and points for each development-sample
 *          enterprise (the disclosure any federated scoring makes); the host's stability
 *          indices; weighted sums of host features (Fisher blocks); under `full`, the host's
 *          bins and points, with which each enterprise's partial points narrow down its host bins
 *          and a float partial logit gives every one away (see server/online.ts and
 *          tests/attacks/decode-platform-bins).
 * Neither receives the other's raw feature values or (host) any label or residual.
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
import { IndomainError } from '../../engine/errors.ts';
import { scorecardConfig, type FeatureDeclarations, type ScorecardConfig } from './config.ts';
import type { SideData } from './common.ts';
import { ScorecardGuest } from './guest.ts';
import { ScorecardHost } from './host.ts';

export { ScorecardGuest, ScorecardHost, scorecardConfig, type ScorecardConfig, type FeatureDeclarations };

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
}

export interface ScorecardRun {
  readonly guest: ScorecardGuest;
  readonly host: ScorecardHost;
  readonly training: VflTrainResult;
  readonly model: ScorecardModel;
  readonly report: ScorecardReport;
  readonly markdown: string;
  /** Per development-sample row (train then test order of the inputs): reason-code fields, worst first. */
  readonly reasons: { readonly train: string[][]; readonly test: string[][] };
  /** Every message delivered in the binning and scorecard stages. */
  readonly log: readonly DeliveryRecord[];
  readonly seconds: { binning: number; training: number; scorecard: number };
}

/** Run binning, training and the scorecard stage with all parties in this process. */
export async function scorecardInMemory(input: ScorecardInput): Promise<ScorecardRun> {
  const config = scorecardConfig(input.config.job, input.config);
  const t0 = performance.now();
  const [cg, ch] = await Promise.all([createCkks(config.params), createCkks(config.params)]);
  const guest = new ScorecardGuest(cg, input.guest, input.labels, input.guestDeclarations ?? {}, config);
  const host = new ScorecardHost(ch, input.host, input.hostDeclarations ?? {}, config, input.rng);
  const binning = new MemoryTransport([guest, host]);
  await binning.run();
  if (host.kept.length === 0) throw new IndomainError('SC_NO_FEATURES', 'no host feature passed selection', { field: 'host' });
  const t1 = performance.now();

  const training = await trainInMemory({
    guest: guest.trainColumns(),
    labels: input.labels.train,
    host: host.trainColumns(),
    config: vflConfig(`${config.job}/lr`, input.training ?? {}),
    rng: input.rng,
  });
  const t2 = performance.now();
  guest.setModel(training.guest.weights[0]!, training.guest.weights.slice(1));
  host.setModel(training.host.weights.slice());
  const final = new MemoryTransport([guest, host]);
  await final.run();
  const log = [...binning.log, ...final.log];
  const { model, report, markdown, reasons } = assembleScorecard(guest, config, disclosures([...log, ...training.transport.log]));
  const t3 = performance.now();
  return {
    guest,
    host,
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
  const reasons = { train: rowReasons(guest, model, 'train'), test: rowReasons(guest, model, 'test') };
  const report = buildReport({
    scaling: config.scaling,
    policy: config.policy,
    train: guest.train!,
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
 * Reason codes per row, computed by the guest: its own characteristics bin by bin, and the
 * platform as one characteristic (its partial points against their maximum), since the guest
 * never learns which host bin an enterprise falls in.
 */
function rowReasons(guest: ScorecardGuest, model: ScorecardModel, which: 'train' | 'test'): string[][] {
  const kept = guest.kept;
  const scores = guest[which]!;
  const n = scores.labels.length;
  const names = [...kept.map((f) => `guest_${f.name}`), HOST_PARTIAL_FIELD];
  const best = guest.points.map((p) => Math.max(...p));
  const out: string[][] = new Array(n);
  const lost = new Float64Array(kept.length + 1);
  for (let i = 0; i < n; i++) {
    kept.forEach((f, j) => {
      const bins = which === 'train' ? f.trainBins : f.testBins;
      lost[j] = best[j]! - guest.points[j]![bins[i]!]!;
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
      rows: h.plan.totals,
      events: h.plan.events,
      woe: h.plan.woe,
      ivBins: h.plan.ivBins,
      iv: h.plan.iv,
      points: s ? s.points : null,
      kept: keptH.has(h.name),
    };
  });
  return [...own, ...theirs];
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
