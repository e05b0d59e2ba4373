/**
 * The training party a bank or the platform runs in a vertical job, by the job's arbiter mode
 * (jobs/spec.ts `arbiter`):
 *   - `coordinator` (three parties): `vfl-lr` guest and host; the coordinator's arbiter holds the
 *     CKKS key and runs the optimiser (jobs/coordinator-job.ts).
 *   - `none` (two parties): `vfl-lr-2p` guest (the bank: the only key pair, the optimiser) and host
 *     (the platform: a secret rotation of its columns, no key). The coordinator takes no part in
 *     training; the bank tells it each finished round's number (job/TrainingRound, metadata), so
 *     that it can show progress and an ETA.
 * Both keep what a restart needs in the node's store: the secret streams (floods, the host's
 * rotation) and the guest's secret key, so a replay of the inbox rebuilds the same state.
 */
import { applyLrPreparation, fitLrPreparation, type LrPreparation } from '../../engine/impute.ts';
import { secretRng, type Rng } from '../../engine/rng.ts';
import type { PartyTable } from '../../engine/table.ts';
import { createCkks, type Evaluation } from '../../protocols/he/ckks.ts';
import type { Envelope } from '../../protocols/message.ts';
import type { Party } from '../../protocols/transport.ts';
import { vflConfig, VflGuest, VflHost } from '../../protocols/vfl-lr/protocol.ts';
import { TwoPartyGuest, TwoPartyHost } from '../../protocols/vfl-lr-2p/protocol.ts';
import { JOB } from '../messages.ts';
import { envelope, isTwoParty, type JobSpec } from './spec.ts';

/** What a node's job reads of its training party, whichever the mode. */
export interface TrainingParty extends Party {
  /** The guest: intercept first, then its features; the host: its own (unrotated) features. */
  readonly weights: Float64Array;
  readonly iterations: number;
  readonly converged: boolean;
  /** Three-party only: the arbiter's public keys (the scorecard stage's Fisher information uses them). */
  readonly arbiterKeys?: Evaluation | undefined;
}

export interface TrainingInputs {
  readonly spec: JobSpec;
  readonly role: 'guest' | 'host';
  /** Standardised (lr) or WOE (scorecard) training columns of this party. */
  readonly cols: readonly Float64Array[];
  /** The guest's training labels. */
  readonly labels?: Uint8Array | undefined;
  /** Feature names, for refusals only: a data refusal's `field` names one, and JobFailed carries it to the coordinator (declared). */
  readonly names?: readonly string[] | undefined;
  /** The node's per-job secret seed store: a stream per purpose, the same after a restart. */
  readonly secret: (name: string) => Uint8Array;
  /** A CKKS secret key kept from an earlier run of this job, and where to keep a new one. */
  readonly keys: (name: string) => { stored?: Uint8Array; keep: (b: Uint8Array) => void };
}

export async function trainingParty(i: TrainingInputs): Promise<TrainingParty> {
  const config = vflConfig(i.spec.id, i.spec.training ?? {});
  const ckks = await createCkks(config.params);
  const rng = (name: string): Rng => secretRng(i.secret(name), name);
  if (isTwoParty(i.spec)) {
    if (i.role === 'host') return new TwoPartyHost(ckks, i.cols, config, rng('vfl-2p-host'), i.names);
    return new TwoPartyGuest(ckks, i.cols, i.labels!, config, rng('vfl-2p-guest'), i.names, i.keys('vfl-lr-2p-ckks-secret'));
  }
  return i.role === 'guest' ? new VflGuest(ckks, i.cols, i.labels!, config, rng('vfl-mask'), true, i.names) : new VflHost(ckks, i.cols, config, rng('vfl-host-flood'), i.names);
}

/**
 * Two-party jobs: the bank's report of a finished round to the coordinator (its round number only),
 * when `receive` moved the guest to a new round. Nothing in three-party jobs (the arbiter counts).
 */
export function roundReport(spec: JobSpec, party: TrainingParty, roundBefore: number): Envelope[] {
  if (!(party instanceof TwoPartyGuest) || party.round === roundBefore) return [];
  return [envelope(spec.id, JOB, 'TrainingRound', party.round, 'guest', 'coordinator', { round: party.round })];
}

/** The round a two-party guest is in (for {@link roundReport}); -1 otherwise. */
export function roundOf(party: TrainingParty | undefined): number {
  return party instanceof TwoPartyGuest ? party.round : -1;
}

export interface LrColumns {
  readonly train: Float64Array[];
  readonly test: Float64Array[];
  readonly prep: LrPreparation;
}

/**
 * One party's model columns for the `lr` pipeline: missing values imputed by the documented rule
 * (engine/impute.ts, README "Missing values": training mean plus a `<feature>_missing`
 * indicator), then z-scored, all statistics from the training rows; the test rows get the same
 * statistics, which are stored with the model (`preparation`).
 */
export function lrColumns(p: { train: PartyTable; test: PartyTable }): LrColumns {
  const { prep, train } = fitLrPreparation(p.train.features, p.train.featureNames);
  return { train, test: applyLrPreparation(prep, p.test.features), prep };
}
