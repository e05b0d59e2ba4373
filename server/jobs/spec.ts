/**
 * The job specification: which nodes play which role, on which datasets, with which pipeline and
 * parameters. A leaf module: the runtime, the gate, the jobs and the online paths all read it.
 *
 * {@link parseJobSpec} is the only way to a {@link JobSpec}: from an admin request's body, a
 * JobStart's `spec` field, or the spec string a node stored. It validates every field (refusals
 * name the field) and the protocol configurations, so a job fails at submission, not mid-way.
 */
import { IndomainError } from '../../engine/errors.ts';
import type { Envelope } from '../../protocols/message.ts';
import { scorecardConfig, type ScorecardConfig } from '../../protocols/scorecard/protocol.ts';
import { DEFAULT_VFL, vflConfig, type VflConfig } from '../../protocols/vfl-lr/protocol.ts';
import { secAggConfig } from '../../protocols/secagg/common.ts';

export type Pipeline = 'lr' | 'scorecard';

/**
 * Who holds the training key of a vertical job (`arbiter` in the spec).
 * - `coordinator` (the default): three parties. The coordinator runs the arbiter of `vfl-lr` and
 *   of the scorecard stage: it holds the CKKS secret key, decrypts gradients and runs the
 *   optimiser, and sees aggregates only. Neither data party sees the other's gradient.
 * - `none`: two parties (`vfl-lr-2p`). The bank holds the only key and runs the optimiser; the
 *   coordinator orchestrates and receives metadata only (no key, no gradient, no weight).
 * See README.md "Two-party or three-party" for when each applies.
 */
export type ArbiterMode = 'coordinator' | 'none';
export const ARBITER_MODES: readonly ArbiterMode[] = ['coordinator', 'none'];

/** The largest share of the intersection a job may hold out for testing. */
export const MAX_TEST_FRACTION = 0.5;

/** Job statuses after which nothing more happens to a job on a node: never replayed, never cancelled. */
export const TERMINAL: readonly string[] = ['completed', 'failed', 'cancelled'];

export const STAGES: Record<Pipeline, readonly string[]> = {
  lr: ['psi', 'training', 'evaluation'],
  scorecard: ['psi', 'binning', 'training', 'scorecard', 'evaluation'],
};

export interface JobSpec {
  readonly id: string;
  readonly pipeline: Pipeline;
  /** Node names. */
  readonly coordinator: string;
  readonly guest: { readonly node: string; readonly dataset: string };
  readonly host: { readonly node: string; readonly dataset: string };
  readonly seed: string;
  readonly testFraction: number;
  /** Absent: `coordinator` (three parties). Read it with {@link arbiterOf}. */
  readonly arbiter?: ArbiterMode;
  readonly training?: Partial<Omit<VflConfig, 'job'>>;
  readonly scorecard?: Partial<Omit<ScorecardConfig, 'job'>> & { guestCategorical?: string[]; hostCategorical?: string[] };
}

/** Validate a job spec: a parsed JSON value, or the JSON text a node stored or received. */
export function parseJobSpec(raw: unknown): JobSpec {
  const bad = (field: string, why: string): never => {
    throw new IndomainError('SRV_BAD_REQUEST', `job spec: ${why}`, { field });
  };
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw) as unknown;
    } catch {
      bad('spec', 'is not JSON');
    }
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) bad('spec', 'must be an object');
  const s = raw as Record<string, unknown>;
  if (typeof s.id !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(s.id)) bad('id', 'must be 1–64 of A–Z a–z 0–9 . _ -');
  if (s.pipeline !== 'lr' && s.pipeline !== 'scorecard') bad('pipeline', 'must be "lr" or "scorecard"');
  if (typeof s.coordinator !== 'string') bad('coordinator', 'must name the coordinator node');
  for (const side of ['guest', 'host'] as const) {
    const p = s[side] as Record<string, unknown> | undefined;
    if (!p || typeof p !== 'object' || typeof p.node !== 'string' || typeof p.dataset !== 'string') bad(side, 'must be { node, dataset }');
  }
  const seed = s.seed === undefined ? '42' : String(s.seed);
  // At most half the rows held out: a larger test share leaves training too few rows (at 0.9999
  // the arbiter's CKKS decryption failed with SEAL's "result ciphertext is transparent").
  const testFraction = s.testFraction === undefined ? 0.2 : s.testFraction;
  if (typeof testFraction !== 'number' || !(testFraction > 0 && testFraction <= MAX_TEST_FRACTION)) bad('testFraction', `must be a number in (0, ${MAX_TEST_FRACTION}]`);
  if (s.arbiter !== undefined && !ARBITER_MODES.includes(s.arbiter as ArbiterMode)) bad('arbiter', 'must be "coordinator" (three parties: the coordinator holds the training key) or "none" (two parties: the bank holds it)');
  for (const k of ['training', 'scorecard'] as const) {
    if (s[k] !== undefined && (s[k] === null || typeof s[k] !== 'object' || Array.isArray(s[k]))) bad(k, 'must be an object');
  }
  // Each training setting is one vfl-lr knows, of its type (no misspelt key ignored, no string as a number).
  for (const [k, v] of Object.entries((s.training ?? {}) as Record<string, unknown>)) {
    const d = (DEFAULT_VFL as unknown as Record<string, unknown>)[k];
    if (d === undefined) bad(`training.${k}`, 'is not a setting of vfl-lr');
    if (typeof v !== typeof d) bad(`training.${k}`, `must be a ${typeof d}`);
  }
  const spec = { ...(s as unknown as JobSpec), seed, testFraction: testFraction as number };
  // Check the protocol configurations now rather than in the middle of a job.
  vflConfig(spec.id, spec.training ?? {});
  if (spec.pipeline === 'scorecard') scorecardConfig(spec.id, stripDeclarations(spec.scorecard));
  return spec;
}

export function stripDeclarations(s: JobSpec['scorecard']): Partial<ScorecardConfig> {
  const { guestCategorical: _g, hostCategorical: _h, ...rest } = s ?? {};
  return rest;
}

export function envelope(job: string, protocol: string, type: string, round: number, from: string, to: string, body: Record<string, unknown>): Envelope {
  return { job, protocol, type, round, from, to, body };
}

/**
 * What is wrong with a vertical job's `job/StageStart`, if anything: it names a stage of the job's
 * pipeline, at that stage's round (its index in {@link STAGES}), so that each stage is started once
 * (a second start is the same inbox key, a duplicate) and no other (tests/attacks/stage-injection.test.ts).
 */
export function stageStartProblem(spec: AnySpec, env: Envelope): { field: string; why: string } | undefined {
  if (isConsortium(spec) || env.protocol !== 'job' || env.type !== 'StageStart') return undefined;
  const k = STAGES[spec.pipeline].indexOf(String(env.body.stage));
  if (k < 0) return { field: 'stage', why: `is not a stage of the ${spec.pipeline} pipeline (${STAGES[spec.pipeline].join(', ')})` };
  if (env.round !== k) return { field: 'round', why: `must be ${k} for stage ${String(env.body.stage)}` };
  return undefined;
}

/** Protocol roles of a vertical (bank + platform) job; `arbiter` only when the coordinator holds the key. */
export const ROLES = ['guest', 'host', 'coordinator', 'arbiter'] as const;

/** The job's arbiter mode: `coordinator` unless the spec says `none`. */
export function arbiterOf(spec: JobSpec): ArbiterMode {
  return spec.arbiter ?? 'coordinator';
}

/** True for a vertical job without an arbiter (`"arbiter": "none"`). */
export function isTwoParty(spec: AnySpec): boolean {
  return !isConsortium(spec) && arbiterOf(spec) === 'none';
}

/** The training protocol of a vertical job: `vfl-lr` with an arbiter, `vfl-lr-2p` without. */
export function trainingProtocol(spec: JobSpec): 'vfl-lr' | 'vfl-lr-2p' {
  return isTwoParty(spec) ? 'vfl-lr-2p' : 'vfl-lr';
}

/**
 * Whether a message of `protocol`/`type` belongs in this job at all, by its arbiter mode. A
 * two-party job carries no `vfl-lr` (the three-party protocol, whose arbiter would hold the key)
 * and no `job/BankMetrics` (its coordinator receives metadata only; the scorecard arbiter's
 * messages are refused with the arbiter role); a three-party job carries no `vfl-lr-2p`, no
 * `scorecard-2p` and no `job/TrainingRound` (its arbiter counts rounds itself). The gate refuses the
 * others both ways, leaving and arriving (server/transport/gate.ts).
 */
export function messageOfJob(spec: AnySpec, protocol: string, type: string): boolean {
  if (isConsortium(spec)) return true;
  // Nor a protocol of the other pipeline: a coordinator that started a stage the job does not have
  // would otherwise have the platform send what its analyst never approved (tests/attacks/stage-injection.test.ts).
  if ((protocol === 'scorecard' || protocol === 'scorecard-2p') && spec.pipeline !== 'scorecard') return false;
  if ((protocol === 'lr-eval' || protocol === 'score-lr') && spec.pipeline !== 'lr') return false;
  if (protocol === 'score' && spec.pipeline !== 'scorecard') return false;
  const two = isTwoParty(spec);
  if (protocol === 'vfl-lr') return !two;
  if (protocol === 'vfl-lr-2p' || protocol === 'scorecard-2p') return two;
  if (protocol === 'job' && type === 'BankMetrics') return !two;
  if (protocol === 'job' && type === 'TrainingRound') return two;
  return true;
}

/**
 * A consortium job (`consortium-lr`, protocols/consortium/horizontal.ts): a coordinator and n banks,
 * each on its own dataset (the same feature columns, its own borrowers and labels), no platform.
 * Bank i (1-based, in the listed order) plays role `bank-i`; its Shamir point in secagg is i.
 */
export interface ConsortiumSpec {
  readonly id: string;
  readonly pipeline: 'consortium-lr';
  readonly coordinator: string;
  readonly banks: readonly { readonly node: string; readonly dataset: string }[];
  /** The feature columns every bank trains on, by name (each bank's dataset has them and the label). */
  readonly features: readonly string[];
  /** Banks needed in every secure sum (default: a majority). */
  readonly threshold?: number;
  readonly seed: string;
  readonly testFraction: number;
  /** consortium-lr's configuration (lambda, tolerance, maxIterations, fractionBits). */
  readonly training?: { lambda?: number; tolerance?: number; maxIterations?: number; fractionBits?: number };
  /** Seconds the coordinator waits for a secure-aggregation stage before the missing banks count as dropped. */
  readonly stageTimeoutSeconds?: number;
}

export type AnySpec = JobSpec | ConsortiumSpec;

export function isConsortium(spec: AnySpec): spec is ConsortiumSpec {
  return spec.pipeline === 'consortium-lr';
}

/** The role of bank i (1-based) in a consortium job. */
export const bankRole = (i: number): string => `bank-${i}`;

/** The declared role a job role stands for: `bank-2` is a `bank` (message declarations name kinds). */
export function roleKind(role: string): string {
  return /^bank-[1-9][0-9]*$/.test(role) ? 'bank' : role;
}

/** Every role of a job. */
export function rolesOfJob(spec: AnySpec): string[] {
  if (isConsortium(spec)) return ['coordinator', ...spec.banks.map((_, i) => bankRole(i + 1))];
  return isTwoParty(spec) ? ROLES.filter((r) => r !== 'arbiter') : [...ROLES];
}

/** The node that plays `role` in a job (the coordinator node also runs the `vfl-lr` arbiter). */
export function nodeOfRole(spec: AnySpec, role: string): string {
  // A two-party job has no arbiter: nothing is sent to, or taken from, one.
  if (role === 'coordinator' || (role === 'arbiter' && !isTwoParty(spec))) return spec.coordinator;
  if (isConsortium(spec)) {
    const m = /^bank-([1-9][0-9]*)$/.exec(role);
    const b = m ? spec.banks[Number(m[1]) - 1] : undefined;
    if (b) return b.node;
  } else {
    if (role === 'guest') return spec.guest.node;
    if (role === 'host') return spec.host.node;
  }
  throw new IndomainError('SRV_UNKNOWN_PARTY', `role "${role}"`);
}

/** Every role `node` plays in a job. */
export function rolesOf(spec: AnySpec, node: string): string[] {
  return rolesOfJob(spec).filter((r) => nodeOfRole(spec, r) === node);
}

/** Validate a job spec of any pipeline (two-party or consortium). */
export function parseAnySpec(raw: unknown): AnySpec {
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw) as unknown;
    } catch {
      throw new IndomainError('SRV_BAD_REQUEST', 'job spec: is not JSON', { field: 'spec' });
    }
  }
  if (raw && typeof raw === 'object' && (raw as Record<string, unknown>).pipeline === 'consortium-lr') return parseConsortiumSpec(raw as Record<string, unknown>);
  return parseJobSpec(raw);
}

function parseConsortiumSpec(s: Record<string, unknown>): ConsortiumSpec {
  const bad = (field: string, why: string): never => {
    throw new IndomainError('SRV_BAD_REQUEST', `job spec: ${why}`, { field });
  };
  if (typeof s.id !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(s.id)) bad('id', 'must be 1–64 of A–Z a–z 0–9 . _ -');
  if (typeof s.coordinator !== 'string') bad('coordinator', 'must name the coordinator node');
  if (!Array.isArray(s.banks) || s.banks.length < 2) bad('banks', 'must list at least two { node, dataset }');
  const banks = (s.banks as unknown[]).map((b, i) => {
    const r = b as Record<string, unknown> | null;
    if (!r || typeof r !== 'object' || typeof r.node !== 'string' || typeof r.dataset !== 'string') bad(`banks[${i}]`, 'must be { node, dataset }');
    return { node: r!.node as string, dataset: r!.dataset as string };
  });
  const nodes = banks.map((b) => b.node);
  if (new Set(nodes).size !== nodes.length || nodes.includes(s.coordinator as string)) bad('banks', 'lists a node twice or the coordinator');
  if (!Array.isArray(s.features) || s.features.length < 1 || s.features.some((f) => typeof f !== 'string') || new Set(s.features).size !== s.features.length) bad('features', 'must list the feature columns, each once');
  const seed = s.seed === undefined ? '42' : String(s.seed);
  const testFraction = s.testFraction === undefined ? 0.2 : Number(s.testFraction);
  if (!(testFraction > 0 && testFraction < 1)) bad('testFraction', 'must be in (0, 1)');
  if (s.training !== undefined && (s.training === null || typeof s.training !== 'object' || Array.isArray(s.training))) bad('training', 'must be an object');
  const training = (s.training ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(training)) {
    if (!['lambda', 'tolerance', 'maxIterations', 'fractionBits'].includes(k) || typeof training[k] !== 'number') bad(`training.${k}`, 'is not a number setting of consortium-lr');
  }
  const timeout = s.stageTimeoutSeconds === undefined ? undefined : Number(s.stageTimeoutSeconds);
  if (timeout !== undefined && !(timeout > 0 && timeout <= 3600)) bad('stageTimeoutSeconds', 'must be in (0, 3600]');
  const spec: ConsortiumSpec = {
    id: s.id as string,
    pipeline: 'consortium-lr',
    coordinator: s.coordinator as string,
    banks,
    features: [...(s.features as string[])],
    ...(s.threshold !== undefined ? { threshold: Number(s.threshold) } : {}),
    seed,
    testFraction,
    ...(s.training !== undefined ? { training: training as ConsortiumSpec['training'] } : {}),
    ...(timeout !== undefined ? { stageTimeoutSeconds: timeout } : {}),
  };
  // The secure-aggregation configuration is checked now (threshold above half, at most n).
  secAggConfig({ job: spec.id, banks: banks.map((_, i) => bankRole(i + 1)), ...(spec.threshold !== undefined ? { threshold: spec.threshold } : {}) });
  return spec;
}
