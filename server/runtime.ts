/**
 * A node's message runtime: the HTTP transport of the protocols, with no protocol change.
 *
 * Receiving. A signed request's envelope is checked (declared type; the signer is the node that
 * plays the sender's role in the job) and written to the inbox before the sender gets its 202.
 * A message already in the inbox (same job, protocol, type, round, sender and receiver role) is
 * acknowledged and ignored, so retries are harmless.
 *
 * Processing. Each job's inbox is processed in arrival order by one serial loop: the envelope
 * goes to the job's party for its protocol; a message whose stage has not started here yet is
 * deferred and retried after each message that is handled. The outputs and the "processed" mark
 * are committed in one transaction, then delivered from the outbox, retried until the peer
 * accepts them.
 *
 * Recovery. Everything a node does in a job is a function of its inbox in order (and its data and
 * stored secrets), so a restarted node replays its inbox to rebuild every party's state, without
 * re-sending what it had already committed, then goes on. A node killed in the middle of a round
 * thus resumes from its last completed message, and its peers' retries carry the job on.
 */
import { errorJson, IndomainError } from '../engine/errors.ts';
import { decodeMessage, encodeMessage } from '../protocols/codec.ts';
import { messageSpec, type Envelope } from '../protocols/message.ts';
import type { Blinder } from '../protocols/psi/protocol.ts';
import { CoordinatorJob } from './coordinator.ts';
import { NodeJob, parseJobSpec, type JobSpec } from './job.ts';
import { signRequest, type Identity } from './signing.ts';
import { metaOfKey } from './messages.ts';
import type { InboxRow, NodeStore } from './store.ts';
import type { AuthorisationRegistry } from './authz.ts';
import { Gate, nodeOfRole, rolesOf, type EgressPolicy, type GateMode } from './gate.ts';
import { jobFailure } from './messages.ts';

export { nodeOfRole, type EgressPolicy };

export type NodeRole = 'platform' | 'bank' | 'coordinator';

export interface Peer {
  readonly name: string;
  readonly role: NodeRole;
  readonly url: string;
  readonly publicKey: Uint8Array;
}

/**
 * The platform's policy: every declared class its protocols need; there is no class for raw rows
 * or plaintext per-enterprise features, and an undeclared type or field never passes.
 */
export const PLATFORM_POLICY: EgressPolicy = { allowedClasses: ['ciphertext', 'aggregate', 'model', 'score', 'blinded-ids', 'metadata'] };
export const OPEN_POLICY: EgressPolicy = { allowedClasses: ['ciphertext', 'masked', 'aggregate', 'model', 'score', 'blinded-ids', 'metadata'] };

export interface RuntimeOptions {
  /** Egress policy (default: the platform's for the platform, all declared classes otherwise). */
  readonly policy?: EgressPolicy;
  readonly name: string;
  readonly role: NodeRole;
  readonly store: NodeStore;
  readonly identity: Identity;
  readonly peers: ReadonlyMap<string, Peer>;
  /** PSI blinding pool (party nodes). */
  readonly blinder?: Blinder;
  /** The platform's authorisation registry. */
  readonly authz?: AuthorisationRegistry;
  /** Approve jobs without the analyst (the lab); off by default. */
  readonly autoApprove?: boolean;
  readonly log?: (line: string) => void;
  /**
   * TEST ONLY, for tests/attacks (never from a job spec, an HTTP request or the command line):
   * `gate: 'legacy'` is the gate without role checks and without checks of what arrives;
   * `reports: 'legacy'` makes this node's stage reports carry its whole summary (its weights).
   */
  readonly unsafe?: { readonly gate?: GateMode; readonly reports?: 'legacy' };
}

type Run = { kind: 'node'; job: NodeJob } | { kind: 'coordinator'; job: CoordinatorJob };

interface JobState {
  run: Run | undefined;
  /** Highest inbox sequence number taken up. */
  lastSeq: number;
  handled: Set<number>;
  deferred: InboxRow[];
  chain: Promise<void>;
}

export const MESSAGE_PATH = '/v1/messages';

/** The dedupe key of a message: unique per message instance in every protocol. */
export function messageKey(env: Envelope): string {
  return [env.job, env.protocol, env.type, env.round, env.from, env.to].join('|');
}

export class NodeRuntime {
  private readonly jobs = new Map<string, JobState>();
  private delivering = false;
  private deliverAgain = false;
  private stopped = false;
  private readonly log: (line: string) => void;

  readonly policy: EgressPolicy;
  /** The gate every outgoing message passes (job messages, replies, this node's requests). */
  readonly gate: Gate;

  constructor(private readonly o: RuntimeOptions) {
    this.log = o.log ?? (() => {});
    this.policy = o.policy ?? (o.role === 'platform' ? PLATFORM_POLICY : OPEN_POLICY);
    this.gate = new Gate({ name: o.name, store: o.store, policy: this.policy, mode: o.unsafe?.gate ?? 'enforce' });
    // The policy in force goes into the audit chain whenever it changes.
    const last = o.store.audit.records('policy').pop();
    const body = { allowedClasses: [...this.policy.allowedClasses].sort() };
    if (!last || last.body !== JSON.stringify(body)) o.store.tx(() => o.store.audit.append('policy', '', body));
  }

  /**
   * Queue job messages for their peers, each through the gate (server/gate.ts): a refusal is
   * audited and fails the job; nothing is queued. The messages are queued with the processed
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

  get store(): NodeStore {
    return this.o.store;
  }

  /** Rebuild every unfinished job by replaying its inbox, then deliver what is pending. */
  async recover(): Promise<void> {
    for (const j of this.o.store.jobs()) {
      if (j.status === 'completed' || j.status === 'failed' || j.status === 'cancelled') continue;
      this.log(`recovering job ${j.id} (${j.status}, stage ${j.stage || '-'})`);
      await this.pump(j.id);
    }
    this.kick();
  }

  stop(): void {
    this.stopped = true;
  }

  /** Accept a verified request body from `sender`: check, store, schedule. */
  accept(sender: string, bytes: Uint8Array): { duplicate: boolean } {
    const env = decodeMessage(bytes);
    messageSpec(env.protocol, env.type);
    if (env.protocol === 'job' && env.type === 'JobStart') {
      const spec = parseJobSpec(JSON.parse(String(env.body.spec)));
      if (spec.id !== env.job) throw new IndomainError('SRV_BAD_REQUEST', `JobStart for "${env.job}" carries spec "${spec.id}"`);
      if (nodeOfRole(spec, env.to) !== this.o.name) throw new IndomainError('SRV_UNKNOWN_PARTY', `this node is "${this.o.name}", not the ${env.to} of job ${spec.id}`);
      // Checked before anything is stored: only the job's coordinator starts it.
      this.gate.admit(env, sender, spec);
      if (this.gate.mode === 'enforce') this.checkJobStart(env, spec);
      this.o.store.putJob(spec.id, JSON.stringify(spec));
      if (this.o.role === 'platform' && this.o.store.decision(spec.id) === undefined) {
        if (this.o.autoApprove) this.o.store.decide(spec.id, 'approved', 'auto-approval');
        else this.o.store.updateJob(spec.id, { status: 'awaiting-approval' });
      }
    } else {
      const row = this.o.store.job(env.job);
      if (!row) throw new IndomainError('SRV_NOT_FOUND', `job "${env.job}" is unknown here`);
      this.gate.admit(env, sender, JSON.parse(row.spec) as JobSpec);
    }
    const meta = { protocol: env.protocol, type: env.type, round: env.round, privacy: messageSpec(env.protocol, env.type).privacy };
    const fresh = this.o.store.receive(env.job, messageKey(env), sender, bytes, meta);
    if (fresh && env.protocol === 'job' && env.type === 'JobCancel') this.o.store.updateJob(env.job, { status: 'cancelled' });
    else if (fresh) void this.pump(env.job);
    return { duplicate: !fresh };
  }

  /**
   * What a JobStart must be beyond its declaration: round 0; each node of its spec playing its role
   * in the pinned peers (the coordinator a coordinator, the guest a bank, the host the platform: a
   * bank cannot coordinate a job); and, for a job already here, the same spec (a job's spec is fixed
   * by its first JobStart, and the job runs the stored one).
   */
  private checkJobStart(env: Envelope, spec: JobSpec): void {
    if (env.round !== 0) throw new IndomainError('SRV_BAD_REQUEST', `JobStart must be round 0, got ${env.round}`, { field: 'round' });
    for (const [side, role] of [['coordinator', 'coordinator'], ['guest', 'bank'], ['host', 'platform']] as const) {
      const node = side === 'coordinator' ? spec.coordinator : spec[side].node;
      const playedBy = node === this.o.name ? this.o.role : this.o.peers.get(node)?.role;
      if (playedBy !== role) throw new IndomainError('SRV_UNKNOWN_PARTY', `the ${side} of job ${spec.id} must be a ${role} node`, { field: side });
    }
    const stored = this.o.store.job(spec.id);
    if (stored && stored.spec !== JSON.stringify(spec)) throw new IndomainError('SRV_BAD_REQUEST', `job ${spec.id} already exists here with another specification`, { field: 'spec' });
  }

  /** Create a job on the coordinator: stored as its own first inbox record, so replay covers it. */
  createJob(spec: JobSpec): void {
    if (this.o.role !== 'coordinator') throw new IndomainError('SRV_BAD_REQUEST', 'jobs are created on the coordinator');
    if (spec.coordinator !== this.o.name) throw new IndomainError('SRV_BAD_REQUEST', `spec names coordinator "${spec.coordinator}", this is "${this.o.name}"`, { field: 'coordinator' });
    for (const side of ['guest', 'host'] as const) {
      const p = this.o.peers.get(spec[side].node);
      if (!p) throw new IndomainError('SRV_BAD_REQUEST', `no pinned peer "${spec[side].node}"`, { field: side });
    }
    if (this.o.store.job(spec.id)) throw new IndomainError('SRV_BAD_REQUEST', `job "${spec.id}" exists`, { field: 'id' });
    this.o.store.putJob(spec.id, JSON.stringify(spec));
    const env: Envelope = { job: spec.id, protocol: 'job', type: 'JobCreate', round: 0, from: 'coordinator', to: 'coordinator', body: {} };
    this.o.store.tx(() => this.o.store.audit.append('admin', spec.id, { action: 'job-submitted', spec }));
    this.o.store.receive(spec.id, messageKey(env), this.o.name, encodeMessage(env), { protocol: 'job', type: 'JobCreate', round: 0, privacy: 'metadata' });
    void this.pump(spec.id);
  }

  /** The platform's analyst approves a job: its stages may now touch the platform's data. */
  approve(job: string, by: string): void {
    const row = this.o.store.job(job);
    if (!row) throw new IndomainError('SRV_NOT_FOUND', `job "${job}"`);
    if (this.o.store.decision(job)) throw new IndomainError('SRV_BAD_REQUEST', `job "${job}" was already ${this.o.store.decision(job)}`);
    this.o.store.decide(job, 'approved', by);
    if (row.status === 'awaiting-approval') this.o.store.updateJob(job, { status: 'running' });
    void this.pump(job);
  }

  /** The analyst refuses a job: it fails everywhere, nothing of the platform's data was used. */
  refuse(job: string, by: string, reason: string): void {
    const row = this.o.store.job(job);
    if (!row) throw new IndomainError('SRV_NOT_FOUND', `job "${job}"`);
    if (this.o.store.decision(job)) throw new IndomainError('SRV_BAD_REQUEST', `job "${job}" was already ${this.o.store.decision(job)}`);
    this.o.store.decide(job, 'refused', by, reason);
    this.fail(job, new IndomainError('SRV_JOB_REFUSED', reason));
  }

  /** Cancel a job here; the coordinator also tells both nodes, which stop processing it. */
  cancel(job: string): void {
    const row = this.o.store.job(job);
    if (!row) throw new IndomainError('SRV_NOT_FOUND', `job "${job}"`);
    if (row.status === 'completed' || row.status === 'failed' || row.status === 'cancelled') return;
    this.o.store.updateJob(job, { status: 'cancelled' });
    if (this.o.role === 'coordinator') {
      this.enqueue(
        job,
        (['guest', 'host'] as const).map((to): Envelope => ({ job, protocol: 'job', type: 'JobCancel', round: 0, from: 'coordinator', to, body: {} })),
      );
    }
  }

  coordinatorJob(job: string): CoordinatorJob | undefined {
    const r = this.jobs.get(job)?.run;
    return r?.kind === 'coordinator' ? r.job : undefined;
  }

  /** Process a job's inbox in order (serially per job). */
  pump(job: string): Promise<void> {
    let st = this.jobs.get(job);
    if (!st) {
      st = { run: undefined, lastSeq: 0, handled: new Set(), deferred: [], chain: Promise.resolve() };
      this.jobs.set(job, st);
    }
    const state = st;
    state.chain = state.chain.then(() => this.drain(job, state)).catch((e: unknown) => this.fail(job, e));
    return state.chain;
  }

  private async drain(job: string, st: JobState): Promise<void> {
    const status = this.o.store.job(job)?.status;
    if (status === 'failed' || status === 'cancelled' || status === 'completed') return;
    // What waited (an approval, a stage not started) may go now.
    await this.retryDeferred(job, st);
    for (;;) {
      const row = this.o.store.inboxAfter(job, st.lastSeq);
      if (!row) return;
      st.lastSeq = row.seq;
      if (await this.process(job, st, row)) await this.retryDeferred(job, st);
    }
  }

  private async retryDeferred(job: string, st: JobState): Promise<void> {
    let progress = true;
    while (progress) {
      progress = false;
      for (const row of [...st.deferred]) {
        st.deferred = st.deferred.filter((d) => d.seq !== row.seq);
        if (await this.process(job, st, row)) {
          progress = true;
          break;
        }
      }
    }
  }

  /** True when handled; false when deferred. */
  private async process(job: string, st: JobState, row: InboxRow): Promise<boolean> {
    const env = decodeMessage(row.bytes);
    const out = await this.dispatch(st, env, row);
    if (out === null) {
      st.deferred.push(row);
      return false;
    }
    st.handled.add(row.seq);
    if (!row.processed) {
      this.enqueue(job, out, row.seq);
      this.updateStatus(job, st);
    }
    return true;
  }

  private async dispatch(st: JobState, env: Envelope, row: InboxRow): Promise<Envelope[] | null> {
    if (env.protocol === 'job' && env.type === 'JobCreate') {
      const spec = parseJobSpec(JSON.parse(this.o.store.job(env.job)!.spec));
      const job = new CoordinatorJob(spec, this.o.store);
      st.run = { kind: 'coordinator', job };
      return job.create();
    }
    if (env.protocol === 'job' && env.type === 'JobStart') {
      // The stored specification (the one the gate routes by and the analyst approved), never the message's.
      const spec = parseJobSpec(JSON.parse(this.o.store.job(env.job)!.spec));
      const role = env.to as 'guest' | 'host';
      st.run = { kind: 'node', job: new NodeJob(spec, role, this.o.store, this.o.blinder!, this.o.authz, this.o.unsafe?.reports) };
      return [];
    }
    if (env.protocol === 'job' && env.type === 'JobFailed') throw new PeerFailed(env.from, env.body);
    if (!st.run) return null;
    if (st.run.kind === 'coordinator') return st.run.job.receive(env, row.receivedAt);
    st.run.job.now = row.receivedAt;
    st.run.job.replaying = row.processed === 1;
    if (env.protocol === 'job' && env.type === 'StageStart') return st.run.job.startStage(String(env.body.stage));
    return st.run.job.receive(env);
  }



  private updateStatus(job: string, st: JobState): void {
    const run = st.run;
    if (!run) return;
    if (run.kind === 'coordinator') {
      const c = run.job;
      this.o.store.updateJob(job, {
        status: c.finished ? 'completed' : 'running',
        stage: c.stage,
        progress: JSON.stringify(c.progress()),
        ...(c.finished ? { result: JSON.stringify(c.result) } : {}),
      });
    } else {
      const status = this.o.store.job(job)?.status;
      this.o.store.updateJob(job, { status: status === 'awaiting-approval' && this.o.store.decision(job) !== 'approved' ? status : 'running', progress: JSON.stringify(run.job.summary) });
    }
  }

  private fail(job: string, e: unknown): void {
    const err = errorJson(e);
    this.log(`job ${job} failed: ${err.code}: ${err.message}`);
    const row = this.o.store.job(job);
    if (!row || row.status === 'failed') return;
    // A peer's failure is stored as it arrived: its code, stage and position, nothing else.
    this.o.store.updateJob(job, { status: 'failed', error: JSON.stringify(e instanceof PeerFailed ? e.report : err) });
    // A party node tells the coordinator, which fails the job for everyone watching it: with the
    // code, the stage and where (field, line, column), never the message (it may quote data).
    if (this.o.role !== 'coordinator') {
      const spec = JSON.parse(row.spec) as JobSpec;
      const role = rolesOf(spec, this.o.name).find((r) => r === 'guest' || r === 'host') ?? 'guest';
      const run = this.jobs.get(job)?.run;
      const body = this.o.unsafe?.reports === 'legacy' ? { error: `${err.code}: ${err.message}` } : jobFailure(e, run?.kind === 'node' ? run.job.stage : '');
      const env: Envelope = { job, protocol: 'job', type: 'JobFailed', round: 0, from: role, to: 'coordinator', body };
      try {
        this.enqueue(job, [env]);
      } catch {
        /* refused at the gate: audited there */
      }
    }
  }

  /** Deliver the outbox in order, per peer; retry with back-off until accepted. */
  kick(): void {
    if (this.delivering) {
      this.deliverAgain = true;
      return;
    }
    this.delivering = true;
    void this.deliver().finally(() => {
      this.delivering = false;
      if (this.deliverAgain && !this.stopped) {
        this.deliverAgain = false;
        this.kick();
      }
    });
  }

  private async deliver(): Promise<void> {
    let backoff = 50;
    while (!this.stopped) {
      const rows = this.o.store.undelivered();
      if (rows.length === 0) return;
      const blocked = new Set<string>();
      let progressed = false;
      for (const row of rows) {
        if (blocked.has(row.toNode)) continue;
        const peer = this.o.peers.get(row.toNode);
        if (!peer) {
          this.o.store.abandoned(row, `no pinned peer "${row.toNode}"`);
          this.fail(row.job, new IndomainError('SRV_UNKNOWN_PEER', `no pinned peer "${row.toNode}"`));
          continue;
        }
        const r = await this.post(peer, row.bytes);
        if (r === 'ok') {
          this.o.store.delivered(row, metaOfKey(row.key));
          progressed = true;
        } else if (r === 'retry') blocked.add(row.toNode);
        else {
          this.o.store.abandoned(row, r.message);
          this.fail(row.job, r);
        }
      }
      if (!progressed) {
        await new Promise((res) => setTimeout(res, backoff));
        backoff = Math.min(2000, backoff * 2);
      } else backoff = 50;
    }
  }

  private async post(peer: Peer, body: Uint8Array): Promise<'ok' | 'retry' | IndomainError> {
    const headers = { ...signRequest(this.o.identity, 'POST', MESSAGE_PATH, body), 'content-type': 'application/msgpack' };
    try {
      const res = await fetch(peer.url + MESSAGE_PATH, { method: 'POST', headers, body });
      if (res.ok) {
        await res.arrayBuffer();
        return 'ok';
      }
      const text = await res.text();
      if (res.status >= 500 || res.status === 429) return 'retry';
      let code = 'SRV_BAD_REQUEST';
      let message = text;
      try {
        const j = JSON.parse(text) as { code?: string; message?: string };
        code = j.code ?? code;
        message = j.message ?? text;
      } catch {
        /* keep the text */
      }
      return new IndomainError('SRV_PEER_UNREACHABLE', `${peer.name} refused a message: ${code}: ${message}`);
    } catch {
      return 'retry';
    }
  }
}

/** A party's JobFailed, as the coordinator keeps it: who failed, and the structured report. */
class PeerFailed extends IndomainError {
  readonly report: Record<string, unknown>;
  constructor(from: string, body: Readonly<Record<string, unknown>>) {
    super('SRV_JOB_FAILED', `the ${from} failed${typeof body.code === 'string' ? `: ${body.code}` : ''}`);
    this.report = { code: 'SRV_JOB_FAILED', message: this.message, party: from, cause: { ...body } };
  }
}
