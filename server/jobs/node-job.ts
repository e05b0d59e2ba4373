/**
 * The node side of a job: which protocol party a node runs in each stage,
 * built from its own registered dataset. Everything here is a deterministic function of the job's
 * messages in arrival order (given the node's data and per-job secret seed), so that a restarted
 * node rebuilds its state by replaying its inbox (server/transport/replay.ts).
 */
import { randomBytes } from 'node:crypto';
import { alignTo, seededSplit } from '../../engine/align.ts';
import { IndomainError } from '../../engine/errors.ts';
import { lrPreparationJson } from '../../engine/impute.ts';
import { selectRows, type PartyTable } from '../../engine/table.ts';
import { fitLogistic, predictLogistic, sigmoid } from '../../models/logistic.ts';
import { binaryMetrics } from '../../models/metrics.ts';
import { createCkks } from '../../protocols/he/ckks.ts';
import type { Envelope } from '../../protocols/message.ts';
import type { Blinder } from '../../protocols/psi/protocol.ts';
import { PsiGuest, PsiHost } from '../../protocols/psi/protocol.ts';
import { scorecardConfig, ScorecardGuest, ScorecardHost } from '../../protocols/scorecard/protocol.ts';
import type { Party } from '../../protocols/transport.ts';
import { JOB } from '../messages.ts';
import type { NodeStore } from '../store/node-store.ts';
import type { AuthorisationRegistry } from '../authz.ts';
import { envelope, isTwoParty, STAGES, stripDeclarations, trainingProtocol, type JobSpec } from './spec.ts';
import { twoPartyScorecardStage, type TwoPartyScorecardStage } from './two-party-scorecard.ts';
import { lrColumns, roundOf, roundReport, trainingParty, type LrColumns, type TrainingParty } from './training.ts';
import { writeScorecard } from './scorecard-artifacts.ts';
import { writeLrPart } from './lr-artifacts.ts';

/** What a node's part of a job works with, besides its spec and role. */
export interface NodeJobDeps {
  readonly store: NodeStore;
  /** PSI blinding pool. */
  readonly blinder: Blinder;
  /** The platform's authorisation registry (platform nodes). */
  readonly authz?: AuthorisationRegistry | undefined;
  /** TEST ONLY (tests/attacks): 'legacy' reports this node's whole summary, weights included. */
  readonly reports?: 'legacy' | undefined;
  /** Called once when the platform deploys a model, with the development sample (post-loan monitoring's snapshot). */
  readonly onDeployed?: ((spec: JobSpec, ids: readonly string[]) => void) | undefined;
}

/** Data of one party after PSI: aligned to the intersection and split by the job's seed. */
interface Prepared {
  train: PartyTable;
  test: PartyTable;
}

/**
 * A bank's or the platform's part of one job. `role` is its protocol role: `guest` (the bank,
 * labels) or `host` (the platform).
 */
export class NodeJob {
  private table: PartyTable | undefined;
  private prepared: Prepared | undefined;
  private psi: PsiGuest | PsiHost | undefined;
  private vfl: TrainingParty | undefined;
  private sc: ScorecardGuest | ScorecardHost | undefined;
  /** Two-party jobs: the scorecard stage's party, wrapping `sc` (jobs/two-party-scorecard.ts). */
  private sc2: TwoPartyScorecardStage | undefined;
  private stagesDone = new Set<string>();
  summary: Record<string, unknown> = {};
  private hostTest: Float64Array | undefined;
  private evaluationStarted = false;

  /** Time of the message being handled (its arrival, from the inbox): the same on replay. */
  now = 0;
  /** True while the runtime replays already-processed messages: nothing is audited twice. */
  replaying = false;
  private readonly store: NodeStore;
  constructor(
    readonly spec: JobSpec,
    readonly role: 'guest' | 'host',
    private readonly deps: NodeJobDeps,
  ) {
    this.store = deps.store;
  }

  /** The stage this node is in (the last one started). */
  stage = '';

  /** This node's part is over: its evaluation stage reported (the job is terminal here, never replayed). */
  get finished(): boolean {
    return this.stagesDone.has('evaluation');
  }

  private get datasetName(): string {
    return this.role === 'guest' ? this.spec.guest.dataset : this.spec.host.dataset;
  }
  /** An audit record of a use of this node's dataset, naming its fingerprint. */
  private audit(kind: 'data-access' | 'psi-input', body: Record<string, unknown>): void {
    if (!this.replaying) this.store.tx(() => this.store.audit.append(kind, this.job, { ...body, sha256: this.sha256 }, this.now));
  }

  private get job(): string {
    return this.spec.id;
  }

  /** SHA-256 of the dataset as the job first read it, pinned: other content later is DATA_FINGERPRINT_MISMATCH. */
  private sha256 = '';
  private data(): PartyTable {
    if (this.table) return this.table;
    const name = this.datasetName;
    const { table, sha256 } = this.store.loadPinned(this.job, name);
    this.sha256 = sha256;
    this.summary.dataset = { name, sha256 };
    return (this.table = table);
  }

  /**
   * This node's stage report to the coordinator. Its own summary (weights, metrics, artifacts)
   * stays in its own view of the job; the coordinator gets counts only (messages.ts StageDone).
   */
  private stageDone(stage: string, summary: Record<string, unknown>): Envelope {
    this.stagesDone.add(stage);
    this.summary[stage] = summary;
    const round = STAGES[this.spec.pipeline].indexOf(stage);
    if (this.deps.reports === 'legacy') return envelope(this.job, JOB, 'StageDone', round, this.role, 'coordinator', { stage, summary: JSON.stringify(summary) });
    const report: Record<string, unknown> = {};
    if (stage === 'psi') {
      report.intersection = summary.intersection;
      if (summary.excluded) report.excluded = summary.excluded;
    }
    if (stage === 'binning') report.kept = (summary.kept as string[]).length;
    if (stage === 'training') Object.assign(report, { iterations: summary.iterations, converged: summary.converged });
    return envelope(this.job, JOB, 'StageDone', round, this.role, 'coordinator', { stage, report });
  }

  /** The party that receives messages of `protocol`, if its stage has started. */
  partyFor(protocol: string): Party | undefined {
    if (protocol === 'psi') return this.psi;
    if (protocol === trainingProtocol(this.spec)) return this.vfl;
    if (protocol === 'scorecard') return this.sc2 ?? this.sc;
    if (protocol === 'scorecard-2p') return this.sc2;
    return undefined;
  }

  async startStage(stage: string): Promise<Envelope[] | null> {
    // Only a stage of this job's pipeline, once, and after every earlier one finished here (it
    // waits until then): the coordinator orchestrates, it does not choose what this node computes
    // (the gate also checks the stage and its round on arrival; tests/attacks/stage-injection.test.ts).
    const order = STAGES[this.spec.pipeline];
    if (!order.includes(stage)) throw new IndomainError('SRV_BAD_REQUEST', `stage "${stage}" is not a stage of the ${this.spec.pipeline} pipeline`, { field: 'stage' });
    if (this.started.has(stage)) throw new IndomainError('SRV_BAD_REQUEST', `stage "${stage}" was already started`, { field: 'stage' });
    if (order.slice(0, order.indexOf(stage)).some((s) => !this.stagesDone.has(s))) return null;
    const out = await this.begin(stage);
    if (out !== null) this.started.add(stage);
    return out;
  }

  /** The stages started here (each once). */
  private readonly started = new Set<string>();

  private async begin(stage: string): Promise<Envelope[] | null> {
    this.stage = stage;
    switch (stage) {
      case 'psi': {
        // The platform's analyst approves each job before any of its data is touched.
        if (this.role === 'host' && this.store.decision(this.job) !== 'approved') return null;
        let ids = this.data().ids;
        if (this.role === 'host') {
          // Only enterprises with a valid authorisation for this bank, for modelling, now.
          if (!this.deps.authz) throw new IndomainError('SRV_INTERNAL', 'the platform has no authorisation registry');
          const f = this.deps.authz.filter(ids, this.spec.guest.node, 'modelling', this.now);
          ids = f.allowed;
          this.summary.authorisation = f.excluded;
          this.audit('psi-input', { bank: this.spec.guest.node, purpose: 'modelling', at: this.now, dataset: this.datasetName, rows: this.data().ids.length, used: ids.length, excluded: f.excluded, ids: [...ids].sort() });
        } else this.audit('data-access', { dataset: this.datasetName, stage: 'psi', rows: ids.length, columns: ['id'] });
        const rng = this.store.secretStream(this.job, 'psi');
        this.psi = this.role === 'guest' ? new PsiGuest(this.job, ids, this.deps.blinder, rng) : new PsiHost(this.job, ids, this.deps.blinder, rng);
        return this.after('psi', await this.psi.start());
      }
      case 'binning': {
        const p = this.split();
        const decl = { categorical: (this.role === 'guest' ? this.spec.scorecard?.guestCategorical : this.spec.scorecard?.hostCategorical) ?? [] };
        const config = scorecardConfig(this.job, stripDeclarations(this.spec.scorecard));
        const ckks = await createCkks(config.params);
        const side = { names: p.train.featureNames, train: p.train.features, test: p.test.features };
        this.sc =
          this.role === 'guest'
            ? new ScorecardGuest(ckks, side, { train: p.train.label!, test: p.test.label! }, decl, config, this.store.secretKey(this.job, 'scorecard-ckks-secret'), this.store.secretStream(this.job, 'scorecard-guest'))
            : new ScorecardHost(ckks, side, decl, config, this.store.secretStream(this.job, 'scorecard-flood'));
        this.audit('data-access', { dataset: this.datasetName, stage: 'binning', rows: p.train.ids.length + p.test.ids.length, columns: p.train.featureNames });
        return this.after('binning', await this.sc.start());
      }
      case 'training': {
        const cols = this.spec.pipeline === 'scorecard' ? this.sc!.trainColumns() : this.standardized().train;
        // Column names label this node's own refusals (models/refusals.ts); a data refusal's field reaches the coordinator in JobFailed.
        const names = this.spec.pipeline === 'scorecard' ? undefined : this.standardized().prep.names;
        const p = this.split();
        if (this.spec.pipeline !== 'scorecard') this.audit('data-access', { dataset: this.datasetName, stage: 'training', rows: p.train.ids.length + p.test.ids.length, columns: p.train.featureNames });
        this.vfl = await trainingParty({ spec: this.spec, role: this.role, cols, labels: p.train.label, names, secret: (name) => this.store.secret(this.job, name, () => randomBytes(32)), keys: (name) => this.store.secretKey(this.job, name) });
        return this.after('training', await this.vfl.start());
      }
      case 'scorecard': {
        if (isTwoParty(this.spec)) {
          this.sc2 = await twoPartyScorecardStage({ spec: this.spec, sc: this.sc!, training: this.vfl, rng: this.store.secretStream(this.job, `scorecard-2p-${this.role}`), bfvKey: this.store.secretKey(this.job, 'scorecard-2p-bfv-secret') });
          return this.after('scorecard', await this.sc2.start());
        }
        const w = this.vfl!.weights;
        // The Fisher information is computed under the arbiter's vfl-lr keys (from its HeSetup).
        const arbiter = this.vfl!.arbiterKeys;
        if (!arbiter) throw new IndomainError('SRV_JOB_FAILED', 'no arbiter keys from training');
        if (this.sc instanceof ScorecardGuest) this.sc.setModel(w[0]!, w.slice(1), arbiter);
        else this.sc!.setModel(w.slice(), arbiter);
        return this.after('scorecard', await this.sc!.start());
      }
      case 'evaluation':
        this.evaluationStarted = true;
        return this.evaluate();
    }
    throw new IndomainError('SRV_BAD_REQUEST', `unknown stage "${stage}"`);
  }

  /** Deliver a protocol message to this node's party; report the stage when the party is done. */
  async receive(env: Envelope): Promise<Envelope[] | null> {
    if (env.protocol === 'lr-eval') {
      this.hostTest = env.body.logit as Float64Array;
      return this.evaluationStarted ? this.evaluate() : [];
    }
    const party = this.partyFor(env.protocol);
    if (!party) return null; // its stage has not started here yet: the runtime defers it
    // A scorecard-stage message (the other party or the arbiter may get there first) waits until
    // this node's scorecard stage has started: binning is over, the model not yet set.
    if (env.protocol === 'scorecard' && this.stagesDone.has('binning') && this.stage !== 'scorecard') return null;
    const stage = env.protocol === 'psi' ? 'psi' : env.protocol === trainingProtocol(this.spec) ? 'training' : this.sc && this.vfl ? 'scorecard' : 'binning';
    const round = roundOf(this.vfl);
    const out = await party.receive(env);
    const all = party.flush ? [...out, ...party.flush()] : out;
    return this.after(stage, stage === 'training' ? [...all, ...roundReport(this.spec, this.vfl!, round)] : all);
  }

  private after(stage: string, out: Envelope[]): Envelope[] {
    const party = stage === 'psi' ? this.psi : stage === 'training' ? this.vfl : stage === 'scorecard' ? (this.sc2 ?? this.sc) : this.sc;
    if (!party?.done || this.stagesDone.has(stage)) return out;
    let summary: Record<string, unknown> = {};
    if (stage === 'psi') summary = { intersection: this.psi!.intersection!.length, ...(this.summary.authorisation ? { excluded: this.summary.authorisation } : {}) };
    if (stage === 'training') summary = { iterations: this.vfl!.iterations, converged: this.vfl!.converged, weights: Array.from(this.vfl!.weights) };
    if (stage === 'binning' && this.sc) summary = { kept: this.sc.kept.map((f) => f.name) };
    return [...out, this.stageDone(stage, summary)];
  }

  private split(): Prepared {
    if (this.prepared) return this.prepared;
    const ids = this.psi?.intersection;
    if (!ids) throw new IndomainError('SRV_JOB_FAILED', 'no intersection yet');
    const a = alignTo(this.data(), ids);
    const s = seededSplit(ids.length, this.spec.testFraction, this.spec.seed);
    this.prepared = { train: selectRows(a, s.train), test: selectRows(a, s.test) };
    return this.prepared;
  }

  private standardizedCols: LrColumns | undefined;
  /** This party's `lr` columns (jobs/training.ts lrColumns), computed once. */
  private standardized(): LrColumns {
    return (this.standardizedCols ??= lrColumns(this.split()));
  }

  /**
   * Test-set partial logits of this party's features (host, `lr` pipeline) or the joint evaluation
   * (guest). In the scorecard pipeline the guest already holds the joint test scores (from
   * HostPartialScores), so no second test-set message is sent.
   */
  private evaluate(): Envelope[] {
    if (this.stagesDone.has('evaluation')) return [];
    const w = this.vfl!.weights;
    if (this.role === 'host') {
      if (this.sc instanceof ScorecardHost) this.store.putModel(this.job, 'host', { weights: Array.from(w), characteristics: this.sc.sharedCharacteristics() });
      else writeLrPart(this.store, this.job, 'host', { weights: Array.from(w), preparation: lrPreparationJson(this.standardized().prep) });
      // Deployed: remember the development sample's public credit records, for post-loan monitoring.
      if (!this.replaying) this.deps.onDeployed?.(this.spec, this.psi!.intersection!);
      if (this.sc) return [this.stageDone('evaluation', {})];
      const u = predictLogistic({ intercept: 0, weights: w }, this.standardized().test).map((p) => Math.log(p / (1 - p)));
      return [envelope(this.job, 'lr-eval', 'HostTestScores', 0, 'host', 'guest', { logit: u }), this.stageDone('evaluation', {})];
    }
    const p = this.split();
    let joint: Float64Array;
    if (this.sc instanceof ScorecardGuest) joint = this.sc.test!.prob;
    else {
      if (!this.hostTest) return [];
      const own = predictLogistic({ intercept: w[0]!, weights: w.slice(1) }, this.standardized().test);
      joint = own.map((q, i) => sigmoid(Math.log(q / (1 - q)) + this.hostTest![i]!));
    }
    const y = p.test.label!;
    const m = binaryMetrics(joint, y);
    // The bank-only model: the same features, trained on the bank's own data alone.
    const std = this.standardized();
    const bankOnly = fitLogistic(std.train, p.train.label!, { optimizer: 'newton', lambda: this.spec.training?.lambda ?? 1e-4 });
    const b = binaryMetrics(predictLogistic(bankOnly, std.test), y);
    const summary: Record<string, unknown> = { testAuc: m.auc, testKs: m.ks, testRows: y.length, bankOnlyTestAuc: b.auc, bankOnlyTestKs: b.ks };
    if (this.sc instanceof ScorecardGuest) summary.artifacts = writeScorecard(this.store, this.spec, this.role, this.sc, this.split().test.ids, { name: this.datasetName, sha256: this.sha256 });
    else writeLrPart(this.store, this.job, 'guest', { weights: Array.from(w), testAuc: m.auc, testKs: m.ks, preparation: lrPreparationJson(this.standardized().prep) });
    const metrics = { testRows: y.length, testAuc: m.auc, testKs: m.ks, bankOnlyTestAuc: b.auc, bankOnlyTestKs: b.ks };
    // A two-party job's coordinator receives metadata only: the bank keeps its test metrics in its own view.
    const toCoordinator = this.deps.reports === 'legacy' || isTwoParty(this.spec) ? [] : [envelope(this.job, JOB, 'BankMetrics', 0, 'guest', 'coordinator', metrics)];
    return [...toCoordinator, this.stageDone('evaluation', summary)];
  }
}
