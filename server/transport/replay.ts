/**
 * Processing and recovery of a node's jobs. Each job's inbox is processed in arrival order by one
 * serial loop: the envelope goes to the job's party for its protocol; a message whose stage has not
 * started here yet is deferred and retried after each message that is handled. The outputs and the
 * "processed" mark are committed in one transaction (then delivered from the outbox).
 *
 * Recovery. Everything a node does in a job is a function of its inbox in order (and its data and
 * stored secrets), so a restarted node replays its inbox to rebuild every party's state, without
 * re-sending what it had already committed, then goes on. A node killed in the middle of a round
 * thus resumes from its last completed message, and its peers' retries carry the job on.
 */
import { errorJson, IndomainError } from '../../engine/errors.ts';
import { decodeMessage } from '../../protocols/codec.ts';
import type { Envelope } from '../../protocols/message.ts';
import type { CoordinatorRun, JobFactory, NodeRun } from '../jobs/run.ts';
import { isConsortium, parseAnySpec, roleKind, rolesOf, rolesOfJob, TERMINAL } from '../jobs/spec.ts';
import { jobFailure } from '../messages.ts';
import type { InboxRow, NodeStore } from '../store/node-store.ts';
import type { NodeRole } from './peer.ts';

type Run = { kind: 'node'; job: NodeRun } | { kind: 'coordinator'; job: CoordinatorRun };

interface JobState {
  run: Run | undefined;
  /** When this job last moved here: a message for it processed, or its recovery (ms). */
  active: number;
  /** Highest inbox sequence number taken up. */
  lastSeq: number;
  deferred: InboxRow[];
  chain: Promise<void>;
}

export interface RunnerOptions {
  readonly name: string;
  readonly role: NodeRole;
  readonly store: NodeStore;
  readonly jobs: JobFactory;
  /** Queue a job's outgoing messages with the processed mark of inbox row `seq` (through the gate). */
  readonly enqueue: (job: string, envs: readonly Envelope[], seq?: number | null) => void;
  readonly log: (line: string) => void;
  /** TEST ONLY (tests/attacks): 'legacy' failure reports carry the error text. */
  readonly reports?: 'legacy' | undefined;
}

export class JobRunner {
  private readonly jobs = new Map<string, JobState>();

  constructor(private readonly o: RunnerOptions) {}

  coordinatorJob(job: string): CoordinatorRun | undefined {
    const r = this.jobs.get(job)?.run;
    return r?.kind === 'coordinator' ? r.job : undefined;
  }

  /** Running jobs whose coordinator has a StageDeadline due now, with its round. */
  dueDeadlines(now: number): { job: string; round: number }[] {
    const out: { job: string; round: number }[] = [];
    for (const [job, st] of this.jobs) {
      if (st.run?.kind !== 'coordinator' || st.run.job.finished) continue;
      const round = st.run.job.deadlineDue?.(now);
      if (round !== undefined) out.push({ job, round });
    }
    return out;
  }

  /**
   * Coordinator jobs that made no progress for `limitMs` (nothing for them arrived and was taken
   * up here: a peer down or refusing to go on); each fails with SRV_JOB_STALLED.
   */
  stalled(now: number, limitMs: number): string[] {
    const out: string[] = [];
    for (const [job, st] of this.jobs) {
      if (st.run?.kind !== 'coordinator' || st.run.job.finished || now - st.active < limitMs) continue;
      if (TERMINAL.includes(this.o.store.job(job)?.status ?? 'failed')) continue;
      out.push(job);
    }
    return out;
  }

  /** Rebuild every unfinished job by replaying its inbox (terminal ones are left alone); how many. */
  async recover(): Promise<number> {
    let n = 0;
    for (const j of this.o.store.unfinishedJobs(TERMINAL)) {
      this.o.log(`recovering job ${j.id} (${j.status}, stage ${j.stage || '-'})`);
      n++;
      await this.pump(j.id);
    }
    return n;
  }

  /** Process a job's inbox in order (serially per job). */
  pump(job: string): Promise<void> {
    let st = this.jobs.get(job);
    if (!st) this.jobs.set(job, (st = { run: undefined, active: Date.now(), lastSeq: 0, deferred: [], chain: Promise.resolve() }));
    const state = st;
    state.chain = state.chain.then(() => this.drain(job, state)).catch((e: unknown) => this.fail(job, e));
    return state.chain;
  }

  private async drain(job: string, st: JobState): Promise<void> {
    const status = this.o.store.job(job)?.status;
    if (TERMINAL.includes(status ?? '')) return;
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
    st.active = Math.max(st.active, row.receivedAt);
    if (!row.processed) {
      this.o.enqueue(job, out, row.seq);
      this.updateStatus(job, st);
    } else if (st.run?.kind === 'node' && st.run.job.finished) this.updateStatus(job, st); // a node's part finished before it was marked so (older databases)
    return true;
  }

  private async dispatch(st: JobState, env: Envelope, row: InboxRow): Promise<Envelope[] | null> {
    if (env.protocol === 'job' && env.type === 'JobCreate') {
      const any = parseAnySpec(this.o.store.job(env.job)!.spec);
      const job = isConsortium(any) ? this.o.jobs.consortiumCoordinator(any) : this.o.jobs.coordinator(any);
      st.run = { kind: 'coordinator', job };
      return job.create();
    }
    if (env.protocol === 'job' && env.type === 'JobStart') {
      // The stored specification (the one the gate routes by and the analyst approved), never the message's.
      const spec = parseAnySpec(this.o.store.job(env.job)!.spec);
      st.run = { kind: 'node', job: isConsortium(spec) ? this.o.jobs.consortiumBank(spec, env.to) : this.o.jobs.node(spec, env.to as 'guest' | 'host') };
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
    const store = this.o.store;
    if (run.kind === 'coordinator') {
      const c = run.job;
      store.updateJob(job, {
        status: c.finished ? 'completed' : 'running',
        stage: c.stage,
        progress: JSON.stringify(c.progress()),
        ...(c.finished ? { result: JSON.stringify(c.result) } : {}),
      });
    } else {
      const status = store.job(job)?.status;
      // A node whose part is over marks the job completed: terminal here, never replayed on restart.
      const next = run.job.finished ? 'completed' : status === 'awaiting-approval' && store.decision(job) !== 'approved' ? status : 'running';
      store.updateJob(job, { status: next, progress: JSON.stringify(run.job.summary) });
    }
  }

  /** Fail a job here; a party node tells the coordinator (code, stage and position only). */
  fail(job: string, e: unknown): void {
    const err = errorJson(e);
    this.o.log(`job ${job} failed: ${err.code}: ${err.message}`);
    const store = this.o.store;
    const row = store.job(job);
    if (!row || row.status === 'failed') return;
    // A peer's failure is stored as it arrived: its code, stage and position, nothing else.
    store.updateJob(job, { status: 'failed', error: JSON.stringify(e instanceof PeerFailed ? e.report : err) });
    // The coordinator tells every party (each marks the job failed: terminal, never replayed).
    if (this.o.role === 'coordinator') {
      const spec = parseAnySpec(row.spec);
      const code = e instanceof PeerFailed ? 'SRV_JOB_FAILED' : err.code;
      const envs = rolesOfJob(spec)
        .filter((r) => r !== 'coordinator' && r !== 'arbiter')
        .map((to): Envelope => ({ job, protocol: 'job', type: 'JobStopped', round: 0, from: 'coordinator', to, body: { code } }));
      try {
        this.o.enqueue(job, envs);
      } catch {
        /* refused at the gate: audited there */
      }
    }
    // A party node tells the coordinator, which fails the job for everyone watching it: with the
    // code, the stage and where (field, line, column), never the message (it may quote data).
    if (this.o.role !== 'coordinator') {
      const spec = parseAnySpec(row.spec);
      const role = rolesOf(spec, this.o.name).find((r) => r === 'guest' || r === 'host' || roleKind(r) === 'bank') ?? 'guest';
      const run = this.jobs.get(job)?.run;
      const body = this.o.reports === 'legacy' ? { error: `${err.code}: ${err.message}` } : jobFailure(e, run?.kind === 'node' ? run.job.stage : '');
      const env: Envelope = { job, protocol: 'job', type: 'JobFailed', round: 0, from: role, to: 'coordinator', body };
      try {
        this.o.enqueue(job, [env]);
      } catch {
        /* refused at the gate: audited there */
      }
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
