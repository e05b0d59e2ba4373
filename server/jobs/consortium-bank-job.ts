/**
 * A bank node's side of a `consortium-lr` job (server/jobs/consortium-job.ts has the flow and the
 * coordinator's side): secagg's bank role on its own dataset, its own seeded train/test split, and
 * its own test metrics against the consortium model, kept in its own job view.
 */
import { randomBytes } from 'node:crypto';
import { seededSplit } from '../../engine/align.ts';
import { crossGram, linearPredictor, ones, transposeTimes } from '../../engine/columns.ts';
import { IndomainError } from '../../engine/errors.ts';
import { secretRng } from '../../engine/rng.ts';
import { selectRows, type PartyTable } from '../../engine/table.ts';
import { fitLogistic, predictLogistic, sigmoid } from '../../models/logistic.ts';
import { binaryMetrics } from '../../models/metrics.ts';
import { CONSORTIUM_LR } from '../../protocols/consortium/messages.ts';
import { upper } from '../../protocols/consortium/symmetric.ts';
import type { Envelope } from '../../protocols/message.ts';
import { SecAggBank } from '../../protocols/secagg/protocol.ts';
import { JOB } from '../messages.ts';
import { loadDatasetChecked, type NodeStore } from '../store/node-store.ts';
import type { NodeRun } from './run.ts';
import { envelope, type ConsortiumSpec } from './spec.ts';
import { consortiumLrConfig, consortiumSecAgg } from './consortium-job.ts';

export interface ConsortiumBankDeps {
  readonly store: NodeStore;
  readonly sign: (data: Uint8Array) => Uint8Array;
  readonly identities: Readonly<Record<string, Uint8Array>>;
}

/** The columns a bank trains on: the spec's features, by name, from its own dataset. */
function columns(t: PartyTable, features: readonly string[]): Float64Array[] {
  return features.map((f) => {
    const j = t.featureNames.indexOf(f);
    if (j < 0) throw new IndomainError('SRV_BAD_REQUEST', `the bank's dataset has no feature column "${f}"`, { field: f });
    return t.features[j]!;
  });
}

export class ConsortiumBankJob implements NodeRun {
  stage = '';
  summary: Record<string, unknown> = {};
  /** This bank's part is over (it reported its evaluation): terminal here, never replayed. */
  finished = false;
  now = 0;
  replaying = false;
  private bank: SecAggBank | undefined;
  private train: { x: Float64Array[]; y: Uint8Array } | undefined;
  private test: { x: Float64Array[]; y: Uint8Array } | undefined;

  constructor(
    readonly spec: ConsortiumSpec,
    readonly role: string,
    private readonly deps: ConsortiumBankDeps,
  ) {}

  private get dataset(): string {
    const i = Number(/^bank-(\d+)$/.exec(this.role)?.[1]) - 1;
    const b = this.spec.banks[i];
    if (!b) throw new IndomainError('SRV_UNKNOWN_PARTY', `role "${this.role}"`);
    return b.dataset;
  }

  async startStage(stage: string): Promise<Envelope[] | null> {
    if (stage !== 'training') throw new IndomainError('SRV_BAD_REQUEST', `a consortium-lr job has no stage "${stage}"`, { field: 'stage' });
    this.stage = stage;
    const store = this.deps.store;
    const d = store.dataset(this.dataset);
    if (!d) throw new IndomainError('SRV_NOT_FOUND', `dataset "${this.dataset}" is not registered on this node`, { field: 'dataset' });
    // The fingerprint pinned at the job's first read: a replay with other content fails, coded.
    const { table: t, sha256: read } = loadDatasetChecked(d, store.pinnedDataset(this.spec.id, this.dataset) ?? d.sha256);
    const sha256 = store.pinDataset(this.spec.id, this.dataset, read);
    if (!t.label) throw new IndomainError('SRV_BAD_REQUEST', `dataset "${this.dataset}" has no label column`, { field: 'dataset' });
    if (!this.replaying) store.tx(() => store.audit.append('data-access', this.spec.id, { dataset: this.dataset, rows: t.ids.length, stage, sha256 }, this.now));
    const split = seededSplit(t.ids.length, this.spec.testFraction, `${this.spec.seed}:${this.role}`);
    const [tr, te] = [selectRows(t, split.train), selectRows(t, split.test)];
    this.train = { x: columns(tr, this.spec.features), y: tr.label! };
    this.test = { x: columns(te, this.spec.features), y: te.label! };
    const secret = store.secret(this.spec.id, 'secagg-bank', () => randomBytes(32));
    this.bank = new SecAggBank(this.role, consortiumSecAgg(this.spec, this.deps.identities), secretRng(secret, 'secagg-bank'), {}, this.deps.sign);
    this.summary = { stage, dataset: { name: this.dataset, sha256 }, trainRows: tr.ids.length, testRows: te.ids.length };
    return this.bank.start();
  }

  async receive(env: Envelope): Promise<Envelope[] | null> {
    if (!this.bank) return null;
    if (env.protocol === 'secagg') return this.bank.receive(env);
    if (env.protocol !== CONSORTIUM_LR || env.type !== 'Iterate') throw new IndomainError('SRV_BAD_REQUEST', `a bank does not take ${env.protocol}/${env.type} in a consortium job`);
    // The next round opens once this bank has the last one's result (or the key set-up).
    if (!this.bank.done) return null;
    const w = env.body.weights as Float64Array;
    if (env.body.final === true) return [this.evaluate(w)];
    return this.bank.submit(env.round, w.length === 0 ? this.counts() : this.sums(w));
  }

  private counts(): Float64Array {
    const y = this.train!.y;
    return Float64Array.of(y.length, y.reduce((s, v) => s + v, 0));
  }

  /** This bank's (n, gradient, upper Hessian) at `w`, as horizontal.ts computes it. */
  private sums(w: Float64Array): Float64Array {
    const { x: cols, y } = this.train!;
    const n = y.length;
    const x = [ones(n), ...cols];
    const d = x.length;
    if (w.length !== d) throw new IndomainError('SRV_BAD_REQUEST', `iterate of ${w.length} values for ${d} columns`, { field: 'weights' });
    const z = linearPredictor(x, w, n);
    const wt = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const p = sigmoid(z[i]!);
      wt[i] = p * (1 - p);
      z[i] = p - y[i]!;
    }
    const out = new Float64Array(1 + d + (d * (d + 1)) / 2);
    out[0] = n;
    out.set(transposeTimes(x, z), 1);
    out.set(upper(crossGram(x, x, wt), d), 1 + d);
    return out;
  }

  /** The consortium model and this bank's own model on this bank's test rows (kept in its own view). */
  private evaluate(w: Float64Array): Envelope {
    const { x, y } = this.test!;
    const c = binaryMetrics(predictLogistic({ intercept: w[0]!, weights: w.slice(1) }, x), y);
    const own = fitLogistic(this.train!.x, this.train!.y, { lambda: consortiumLrConfig(this.spec).lambda, optimizer: 'newton' });
    const o = binaryMetrics(predictLogistic(own, x), y);
    this.stage = 'evaluation';
    this.summary = {
      ...this.summary,
      stage: 'evaluation',
      model: { intercept: w[0], weights: [...w.slice(1)] },
      consortium: { testAuc: c.auc, testKs: c.ks },
      own: { testAuc: o.auc, testKs: o.ks },
      done: true,
    };
    this.finished = true;
    return envelope(this.spec.id, JOB, 'StageDone', 1, this.role, 'coordinator', { stage: 'evaluation', report: {} });
  }
}
