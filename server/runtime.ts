/**
 * A node's message runtime: the HTTP transport of the protocols, with no protocol change. It
 * composes the egress gate (transport/gate.ts), the inbox (transport/inbox.ts), per-job processing
 * and recovery by replay (transport/replay.ts) and outbox delivery (transport/delivery.ts), and
 * holds the job controls: creation on the coordinator, the platform analyst's approval or refusal,
 * cancellation. Jobs are built by the injected {@link JobFactory}.
 */
import { IndomainError } from '../engine/errors.ts';
import { DEFAULT_LIMITS } from './limits.ts';
import { encodeMessage } from '../protocols/codec.ts';
import type { Envelope } from '../protocols/message.ts';
import type { JobFactory } from './jobs/run.ts';
import { isConsortium, parseAnySpec, rolesOfJob, TERMINAL, type AnySpec } from './jobs/spec.ts';
import type { Identity } from './signing.ts';
import type { NodeStore } from './store/node-store.ts';
import { Delivery } from './transport/delivery.ts';
import { messageKey, OPEN_POLICY, PLATFORM_POLICY, type EgressPolicy, type GateMode } from './transport/egress.ts';
import { Gate } from './transport/gate.ts';
import type { HttpClient } from './transport/http-client.ts';
import { Inbox } from './transport/inbox.ts';
import type { NodeRole, Peer } from './transport/peer.ts';
import { JobRunner } from './transport/replay.ts';

export interface RuntimeOptions {
  /** Egress policy (default: the platform's for the platform, all declared classes otherwise). */
  readonly policy?: EgressPolicy;
  readonly name: string;
  readonly role: NodeRole;
  readonly store: NodeStore;
  readonly identity: Identity;
  readonly peers: ReadonlyMap<string, Peer>;
  /** Builds the node-side and coordinator-side jobs. */
  readonly jobs: JobFactory;
  /** The node's HTTP client (delivery of the outbox). */
  readonly http: HttpClient;
  /** Approve jobs without the analyst (the lab); off by default. */
  readonly autoApprove?: boolean;
  readonly log?: (line: string) => void;
  /**
   * Coordinator: a job that made no progress (no message for it taken up) for this long fails
   * with SRV_JOB_STALLED, and its parties are told (default server/limits.ts, 30 minutes: an analyst's approval included).
   */
  readonly jobTimeoutMs?: number;
  /**
   * TEST ONLY, for tests/attacks (never from a job spec, an HTTP request or the command line):
   * `gate: 'legacy'` is the gate without role checks and without checks of what arrives;
   * `reports: 'legacy'` makes this node's stage reports carry its whole summary (its weights).
   */
  readonly unsafe?: { readonly gate?: GateMode; readonly reports?: 'legacy' };
}

export class NodeRuntime {
  readonly policy: EgressPolicy;
  /** The gate every outgoing message passes (job messages, replies, this node's requests). */
  readonly gate: Gate;
  private readonly delivery: Delivery;
  private readonly runner: JobRunner;
  private readonly inbox: Inbox;

  constructor(private readonly o: RuntimeOptions) {
    const log = o.log ?? (() => {});
    this.policy = o.policy ?? (o.role === 'platform' ? PLATFORM_POLICY : OPEN_POLICY);
    this.gate = new Gate({ name: o.name, store: o.store, policy: this.policy, mode: o.unsafe?.gate ?? 'enforce' });
    this.runner = new JobRunner({ name: o.name, role: o.role, store: o.store, jobs: o.jobs, log, enqueue: (job, envs, seq) => this.enqueue(job, envs, seq), reports: o.unsafe?.reports });
    this.delivery = new Delivery({ store: o.store, identity: o.identity, peers: o.peers, http: o.http, fail: (job, e) => this.runner.fail(job, e) });
    this.inbox = new Inbox({ name: o.name, role: o.role, store: o.store, gate: this.gate, peers: o.peers, autoApprove: o.autoApprove ?? false, pump: (job) => void this.pump(job) });
    // The policy in force goes into the audit chain whenever it changes.
    const last = o.store.audit.records('policy').pop();
    const body = { allowedClasses: [...this.policy.allowedClasses].sort() };
    if (!last || last.body !== JSON.stringify(body)) o.store.tx(() => o.store.audit.append('policy', '', body));
    // The coordinator's clock for consortium jobs: a secagg stage that waited its time closes.
    if (o.role === 'coordinator') {
      this.clock = setInterval(() => this.deadlines(), 500);
      this.clock.unref();
    }
  }

  private clock: NodeJS.Timeout | undefined;

  /**
   * Store a StageDeadline in the coordinator's own inbox for every job whose stage waited its time
   * (once per stage: the same job, type and round is one inbox record), then process it; fail the
   * jobs that made no progress within the job timeout.
   */
  private deadlines(): void {
    const { store, name } = this.o;
    for (const { job, round } of this.runner.dueDeadlines(Date.now())) {
      const env: Envelope = { job, protocol: 'job', type: 'StageDeadline', round, from: 'coordinator', to: 'coordinator', body: {} };
      if (store.receive(job, messageKey(env), name, encodeMessage(env), { protocol: 'job', type: 'StageDeadline', round, privacy: 'metadata' })) void this.pump(job);
    }
    const limit = this.o.jobTimeoutMs ?? DEFAULT_LIMITS.jobTimeoutMs;
    for (const job of this.runner.stalled(Date.now(), limit)) {
      this.runner.fail(job, new IndomainError('SRV_JOB_STALLED', `no progress in ${limit / 1000} s (stage ${store.job(job)?.stage || '-'})`));
    }
  }

  get store(): NodeStore {
    return this.o.store;
  }

  /**
   * Queue job messages for their peers, each through the gate (server/transport/gate.ts): a refusal
   * is audited and fails the job; nothing is queued. The messages are queued with the processed
   * mark of the inbox row `seq`, if any.
   */
  enqueue(job: string, envs: readonly Envelope[], seq: number | null = null): void {
    const outputs = envs.map((env) => {
      if (env.job !== job) throw new IndomainError('SRV_EGRESS_BLOCKED', `a message of job "${env.job}" queued with job "${job}"`);
      return { key: messageKey(env), toNode: this.gate.check(env), bytes: encodeMessage(env) };
    });
    this.o.store.commit(seq, job, outputs);
    this.kick();
  }

  /** Accept a verified request body from `sender`: check, store, schedule. */
  accept(sender: string, bytes: Uint8Array): { duplicate: boolean } {
    return this.inbox.accept(sender, bytes);
  }

  /** Rebuild every unfinished job by replaying its inbox, then deliver what is pending. */
  async recover(): Promise<number> {
    const n = await this.runner.recover();
    this.kick();
    return n;
  }

  stop(): void {
    if (this.clock) clearInterval(this.clock);
    this.delivery.stop();
  }

  kick(): void {
    this.delivery.kick();
  }

  pump(job: string): Promise<void> {
    return this.runner.pump(job);
  }

  coordinatorJob(job: string) {
    return this.runner.coordinatorJob(job);
  }

  /** Create a job on the coordinator: stored as its own first inbox record, so replay covers it. */
  createJob(spec: AnySpec): void {
    const { store, name } = this.o;
    if (this.o.role !== 'coordinator') throw new IndomainError('SRV_BAD_REQUEST', 'jobs are created on the coordinator');
    if (spec.coordinator !== name) throw new IndomainError('SRV_BAD_REQUEST', `spec names coordinator "${spec.coordinator}", this is "${name}"`, { field: 'coordinator' });
    if (isConsortium(spec)) {
      spec.banks.forEach((b, i) => {
        if (this.o.peers.get(b.node)?.role !== 'bank') throw new IndomainError('SRV_BAD_REQUEST', `no pinned bank node "${b.node}"`, { field: `banks[${i}]` });
      });
    } else {
      for (const [side, role] of [['guest', 'bank'], ['host', 'platform']] as const) {
        const peer = this.o.peers.get(spec[side].node);
        if (!peer) throw new IndomainError('SRV_BAD_REQUEST', `no pinned peer "${spec[side].node}"`, { field: side });
        // Refused here, not only by the receivers' JobStart check: the guest a bank, the host the platform.
        if (peer.role !== role) throw new IndomainError('SRV_BAD_REQUEST', `the ${side} of a job must be a ${role} node`, { field: side });
      }
    }
    if (store.job(spec.id)) throw new IndomainError('SRV_BAD_REQUEST', `job "${spec.id}" exists`, { field: 'id' });
    store.putJob(spec.id, JSON.stringify(spec));
    const env: Envelope = { job: spec.id, protocol: 'job', type: 'JobCreate', round: 0, from: 'coordinator', to: 'coordinator', body: {} };
    store.tx(() => store.audit.append('admin', spec.id, { action: 'job-submitted', spec }));
    store.receive(spec.id, messageKey(env), name, encodeMessage(env), { protocol: 'job', type: 'JobCreate', round: 0, privacy: 'metadata' });
    void this.pump(spec.id);
  }

  /** The platform's analyst approves a job: its stages may now touch the platform's data. */
  approve(job: string, by: string): void {
    const store = this.o.store;
    const row = store.job(job);
    if (!row) throw new IndomainError('SRV_NOT_FOUND', `job "${job}"`);
    if (store.decision(job)) throw new IndomainError('SRV_BAD_REQUEST', `job "${job}" was already ${store.decision(job)}`);
    store.decide(job, 'approved', by);
    if (row.status === 'awaiting-approval') store.updateJob(job, { status: 'running' });
    void this.pump(job);
  }

  /** The analyst refuses a job: it fails everywhere, nothing of the platform's data was used. */
  refuse(job: string, by: string, reason: string): void {
    const store = this.o.store;
    if (!store.job(job)) throw new IndomainError('SRV_NOT_FOUND', `job "${job}"`);
    if (store.decision(job)) throw new IndomainError('SRV_BAD_REQUEST', `job "${job}" was already ${store.decision(job)}`);
    store.decide(job, 'refused', by, reason);
    this.runner.fail(job, new IndomainError('SRV_JOB_REFUSED', reason));
  }

  /** Cancel a job here; the coordinator also tells both nodes, which stop processing it. */
  cancel(job: string): void {
    const row = this.o.store.job(job);
    if (!row) throw new IndomainError('SRV_NOT_FOUND', `job "${job}"`);
    // Only a running job: a finished one keeps its status (and its evidence).
    if (TERMINAL.includes(row.status)) throw new IndomainError('SRV_JOB_NOT_RUNNING', `job "${job}" is ${row.status}`);
    this.o.store.updateJob(job, { status: 'cancelled' });
    if (this.o.role === 'coordinator') {
      const parties = rolesOfJob(parseAnySpec(row.spec)).filter((r) => r !== 'coordinator' && r !== 'arbiter');
      this.enqueue(
        job,
        parties.map((to): Envelope => ({ job, protocol: 'job', type: 'JobCancel', round: 0, from: 'coordinator', to, body: {} })),
      );
    }
  }
}
