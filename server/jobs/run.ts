/**
 * What the runtime needs of a job, whichever side runs it, and the factory that builds them. The
 * runtime (server/transport/replay.ts) is given a {@link JobFactory}; it never imports the job
 * classes, which depend on the protocols, the data and the store.
 */
import type { Envelope } from '../../protocols/message.ts';
import type { ConsortiumSpec, JobSpec } from './spec.ts';

/** A bank's or the platform's part of a job (server/jobs/node-job.ts). */
export interface NodeRun {
  /** The stage this node is in (the last one started). */
  readonly stage: string;
  /** This node's own summary of each stage (its view of the job). */
  readonly summary: Record<string, unknown>;
  /** True once this node's part is over (its last stage reported): the job is terminal here. */
  readonly finished: boolean;
  /** Time of the message being handled (its arrival): the same on replay. */
  now: number;
  /** True while the runtime replays already-processed messages. */
  replaying: boolean;
  startStage(stage: string): Promise<Envelope[] | null>;
  /** Null when the message's stage has not started here yet (the runtime defers it). */
  receive(env: Envelope): Promise<Envelope[] | null>;
}

/** The coordinator's part of a job (server/jobs/coordinator-job.ts). */
export interface CoordinatorRun {
  readonly stage: string;
  readonly finished: boolean;
  readonly result: Record<string, unknown> | undefined;
  create(): Envelope[];
  receive(env: Envelope, now: number): Promise<Envelope[] | null>;
  progress(now?: number): Record<string, unknown>;
  /** The round of a StageDeadline due now (consortium jobs: a secagg stage waited its time), if any. */
  deadlineDue?(now: number): number | undefined;
}

export interface JobFactory {
  coordinator(spec: JobSpec): CoordinatorRun;
  node(spec: JobSpec, role: 'guest' | 'host'): NodeRun;
  consortiumCoordinator(spec: ConsortiumSpec): CoordinatorRun;
  /** A bank's part of a consortium job (`role`: bank-i). */
  consortiumBank(spec: ConsortiumSpec, role: string): NodeRun;
}
