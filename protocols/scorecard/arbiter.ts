/**
 * The arbiter (run by the coordinator) in the scorecard stage: it holds the vfl-lr key pair and,
 * as in training, learns the model. From the two parties' one-time-padded shares it rebuilds the
 * joint logit, total points and label of each training row in an order it cannot link to a row or
 * an enterprise, and from them alone computes the training sample's report aggregates (the
 * TrainSummary) and the Fisher weights p(1−p), which it sends back encrypted under its own key. It
 * decrypts the parties' Fisher blocks (sums over all rows, flooded by their senders) and sends the
 * bank the Fisher matrix. It never sends a per-row value in the clear.
 */
import { IndomainError } from '../../engine/errors.ts';
import { sigmoid } from '../../models/logistic.ts';
import { bandEdges, bandsFromEdges, summariseSample, type GroupCounts } from '../../models/report.ts';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import { decryptorFor, deserialize, encryptChunks, importPublicKeys, oneProductScale, type Ckks, type Decryption, type Evaluation, type KeyOwner } from '../he/ckks.ts';
import type { ScorecardConfig } from './config.ts';
import { accept, envelope } from './common.ts';
import { combineShares } from './shares.ts';

type Stage = 'shares' | 'fisher' | 'finished';
const EXPECTS: Record<Stage, readonly string[]> = {
  shares: ['GuestTrainShares', 'HostTrainShares'],
  fisher: ['FisherSums'],
  finished: [],
};

/** Fields per group in TrainSummary's `deciles` and `bands`. */
export const GROUP_FIELDS = 5;

export function packGroups(groups: readonly GroupCounts[]): Float64Array {
  // Empty groups carry 0 for their (undefined) point range: the wire holds finite numbers only.
  return Float64Array.from(groups.flatMap((g) => [g.rows, g.events, g.rows ? g.minPoints : 0, g.rows ? g.maxPoints : 0, g.predicted]));
}

export function unpackGroups(v: Float64Array, field: string): GroupCounts[] {
  if (v.length % GROUP_FIELDS !== 0) throw new IndomainError('SC_BAD_MESSAGE', `${v.length} values, not groups of ${GROUP_FIELDS}`, { field });
  return Array.from({ length: v.length / GROUP_FIELDS }, (_, k) => {
    const [rows, events, lo, hi, predicted] = v.subarray(GROUP_FIELDS * k, GROUP_FIELDS * (k + 1));
    return { rows: rows!, events: events!, minPoints: rows ? lo! : NaN, maxPoints: rows ? hi! : NaN, predicted: predicted! };
  });
}

interface Shares {
  logit: Float64Array;
  points: Float64Array;
  labels?: Uint8Array;
}

export class ScorecardArbiter implements Party {
  readonly name = 'arbiter';
  stage: Stage = 'shares';
  private guest: Shares | undefined;
  private host: Shares | undefined;
  private sums: { guest?: { columns: number; direct: Uint8Array; cross: Uint8Array[] }; host?: { columns: number; direct: Uint8Array; cross: Uint8Array[] } } = {};
  private readonly ev: Evaluation;
  private readonly dec: Decryption;
  /** The Fisher matrix sent to the guest. */
  fisher: Float64Array | undefined;

  /** `keys`: the vfl-lr key pair of this job (the arbiter's own); `ckks`: its context. */
  constructor(
    private readonly ckks: Ckks,
    keys: KeyOwner,
    private readonly config: ScorecardConfig,
  ) {
    this.ev = importPublicKeys(ckks, keys.publicKey, keys.galoisKeys);
    this.dec = decryptorFor(ckks, keys);
  }

  get done(): boolean {
    return this.stage === 'finished';
  }

  start(): Envelope[] {
    return [];
  }

  receive(env: Envelope): Envelope[] {
    accept(env, this.config.job, this.stage, EXPECTS);
    const b = env.body as Record<string, never>;
    // accept() checked the declared sender: guest or host.
    const from = env.from as 'guest' | 'host';
    if (env.type === 'GuestTrainShares' || env.type === 'HostTrainShares') {
      if (this[from]) throw new IndomainError('SC_WRONG_STAGE', `a second ${env.type}`);
      this[from] = { logit: b.logit, points: b.points, ...(from === 'guest' ? { labels: b.labels } : {}) };
      return this.onShares();
    }
    if (this.sums[from]) throw new IndomainError('SC_WRONG_STAGE', `FisherSums from ${from} again`);
    this.sums[from] = { columns: b.columns, direct: b.direct, cross: b.cross };
    return this.onSums();
  }

  private onShares(): Envelope[] {
    const g = this.guest;
    const h = this.host;
    if (!g || !h) return [];
    const n = g.labels!.length;
    if (g.logit.length !== n || g.points.length !== n || h.logit.length !== n || h.points.length !== n) {
      throw new IndomainError('SC_BAD_MESSAGE', `shares of ${g.logit.length}/${h.logit.length} rows for ${n} labels`, { field: 'logit' });
    }
    if (!g.labels!.every((y) => y === 0 || y === 1)) throw new IndomainError('SC_BAD_MESSAGE', 'labels must be 0 or 1', { field: 'labels' });
    const logit = combineShares(g.logit, h.logit);
    const points = combineShares(g.points, h.points).map(Math.round);
    const prob = logit.map(sigmoid);
    const edges = bandEdges(points, this.config.scaling.pdo);
    const s = summariseSample({ prob, points, labels: g.labels! }, bandsFromEdges(edges));
    const m = s.metrics;
    const job = this.config.job;
    // At the rescale prime's scale: see crossOperandScale (common.ts).
    const weights = encryptChunks(this.ev, prob.map((p) => p * (1 - p)), oneProductScale(this.ckks));
    this.guest = this.host = undefined;
    this.stage = 'fisher';
    return [
      envelope(job, 'TrainSummary', this.name, 'guest', {
        metrics: Float64Array.of(m.auc, m.ks, m.gini, m.logLoss, m.n, m.events),
        edges: Float64Array.from(edges),
        deciles: packGroups(s.deciles),
        bands: packGroups(s.bands),
      }),
      envelope(job, 'FisherWeights', this.name, 'guest', { weights }),
      envelope(job, 'FisherWeights', this.name, 'host', { weights }),
    ];
  }

  /**
   * The Fisher information over [intercept, guest kept, host kept]. The guest's direct ciphertext
   * holds Σw, Σw·x_Ga, Σw·x_Ga·x_Gb (a ≤ b); the host's Σw·x_Hl, Σw·x_Hk·x_Hl (k ≤ l); the guest's
   * cross ciphertext l holds Σw·x_Ga·x_Hl for every a. Each was flooded by its sender.
   */
  private onSums(): Envelope[] {
    const g = this.sums.guest;
    const h = this.sums.host;
    if (!g || !h) return [];
    const mg = g.columns;
    const mh = h.columns;
    if (g.cross.length !== mh || h.cross.length !== 0) throw new IndomainError('SC_BAD_MESSAGE', `${g.cross.length} cross blocks for ${mh} host features`, { field: 'cross' });
    const d = 1 + mg + mh;
    const f = new Float64Array(d * d);
    const set = (a: number, b: number, v: number) => {
      f[a * d + b] = v;
      f[b * d + a] = v;
    };
    const open = (bytes: Uint8Array, count: number) => {
      const ct = deserialize(this.ckks, bytes);
      const v = this.dec.decrypt(ct, count);
      ct.delete();
      return v;
    };
    const gv = open(g.direct, 1 + mg + (mg * (mg + 1)) / 2);
    let o = 0;
    set(0, 0, gv[o++]!);
    for (let a = 0; a < mg; a++) set(0, 1 + a, gv[o++]!);
    for (let a = 0; a < mg; a++) for (let b = a; b < mg; b++) set(1 + a, 1 + b, gv[o++]!);
    const hv = open(h.direct, mh + (mh * (mh + 1)) / 2);
    o = 0;
    for (let l = 0; l < mh; l++) set(0, 1 + mg + l, hv[o++]!);
    for (let k = 0; k < mh; k++) for (let l = k; l < mh; l++) set(1 + mg + k, 1 + mg + l, hv[o++]!);
    g.cross.forEach((bytes, l) => {
      const v = open(bytes, mg);
      for (let a = 0; a < mg; a++) set(1 + a, 1 + mg + l, v[a]!);
    });
    this.fisher = f;
    this.stage = 'finished';
    return [envelope(this.config.job, 'FisherMatrix', this.name, 'guest', { fisher: f })];
  }
}
