/**
 * Job control between the coordinator and the nodes (protocol `job`), and the evaluation message
 * of the logistic-regression pipeline. Declared like every protocol message: sender, receiver,
 * privacy class and what the receiver learns.
 */
import { ERRORS, isIndomainError, type ErrorCode } from '../engine/errors.ts';
import { declareMessage, messageSpec, oneOf, record, type Fields } from '../protocols/message.ts';

export const JOB = 'job';

/** Every stage of every pipeline (server/jobs/spec.ts STAGES), for the closed `stage` fields. */
export const STAGE_NAMES = ['psi', 'binning', 'training', 'scorecard', 'evaluation'] as const;
const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

export const JobStart = declareMessage({
  protocol: JOB,
  type: 'JobStart',
  from: 'coordinator',
  to: ['guest', 'host', 'bank'],
  privacy: 'metadata',
  fields: { spec: 'string' },
  discloses: 'the job specification: parties, dataset names, pipeline and parameters',
});

export const StageStart = declareMessage({
  protocol: JOB,
  type: 'StageStart',
  from: 'coordinator',
  to: ['guest', 'host', 'bank'],
  privacy: 'metadata',
  fields: { stage: 'string' },
  discloses: 'that a pipeline stage starts',
});

/**
 * A party's stage report: only what the coordinator needs to run and show the job, in declared
 * sub-fields. Never a coefficient, a value or an id: each node keeps its own weights and metrics
 * in its own view of the job (its job status), and the bank's test metrics go in BankMetrics.
 */
export const StageDone = declareMessage({
  protocol: JOB,
  type: 'StageDone',
  from: ['guest', 'host', 'bank'],
  to: ['coordinator'],
  privacy: 'metadata',
  fields: {
    stage: oneOf(STAGE_NAMES),
    report: record(
      {
        intersection: 'int',
        excluded: record({ missing: 'int', expired: 'int', revoked: 'int', 'not-yet-valid': 'int' }),
        kept: 'int',
        iterations: 'int',
        converged: 'boolean',
      },
      ['intersection', 'excluded', 'kept', 'iterations', 'converged'],
    ),
  },
  discloses:
    "that the sender finished a stage, with counts only: after PSI the intersection size (and, from the platform, how many of its enterprises were left out for want of a valid authorisation, per reason); after binning the number of the sender's kept features; after training the number of iterations and whether it converged",
});

/**
 * Two-party jobs only (`"arbiter": "none"`): the coordinator runs no arbiter there, so the bank,
 * which runs the optimiser, tells it that a training round finished, for progress and an ETA.
 */
export const TrainingRound = declareMessage({
  protocol: JOB,
  type: 'TrainingRound',
  from: 'guest',
  to: ['coordinator'],
  privacy: 'metadata',
  fields: { round: 'int' },
  discloses: 'two-party jobs only: that the bank finished a training round, and its number (what the arbiter of a three-party job counts itself); no gradient, weight or tolerance',
});

export const BankMetrics = declareMessage({
  protocol: JOB,
  type: 'BankMetrics',
  from: 'guest',
  to: ['coordinator'],
  privacy: 'aggregate',
  fields: { testRows: 'int', testAuc: 'number', testKs: 'number', bankOnlyTestAuc: 'number', bankOnlyTestKs: 'number' },
  discloses: "the bank's test-set size and the AUC and KS on it of the joint model and of the bank-only model",
});

export const HostTestScores = declareMessage({
  protocol: 'lr-eval',
  type: 'HostTestScores',
  from: 'host',
  to: ['guest'],
  privacy: 'score',
  fields: { logit: 'f64' },
  discloses: "`lr` pipeline only: the host's partial logit for each test-set enterprise, so that the bank can score and evaluate the joint model (the disclosure of federated scoring); the scorecard pipeline sends its test rows once, in scorecard/HostPartialScores",
});

export const JobFailed = declareMessage({
  protocol: JOB,
  type: 'JobFailed',
  from: ['guest', 'host', 'bank'],
  to: ['coordinator'],
  privacy: 'metadata',
  fields: {
    code: oneOf(ERROR_CODES),
    stage: oneOf(['', ...STAGE_NAMES]),
    at: record({ field: 'string', line: 'int', column: 'int' }, ['field', 'line', 'column']),
  },
  discloses: "that the sender's part of the job failed: the error code, the stage, and where in the sender's input (field name, line, column); never the message text, a file name or a value",
});

/** The JobFailed body of a failure: code, stage and position only. */
export function jobFailure(e: unknown, stage: string): { code: ErrorCode; stage: string; at: { field?: string; line?: number; column?: number } } {
  const code: ErrorCode = isIndomainError(e) ? e.code : 'SRV_INTERNAL';
  const l = isIndomainError(e) ? e.location : undefined;
  const at = {
    ...(l?.field !== undefined ? { field: l.field } : {}),
    ...(Number.isSafeInteger(l?.line) ? { line: l!.line! } : {}),
    ...(Number.isSafeInteger(l?.column) ? { column: l!.column! } : {}),
  };
  return { code, stage: (STAGE_NAMES as readonly string[]).includes(stage) ? stage : '', at };
}

/**
 * TEST ONLY (tests/attacks): the job reports as they were declared before they were structured,
 * a JSON string and a free text, which the gate checks in its `legacy` mode.
 */
export const LEGACY_FIELDS: Readonly<Record<string, Fields>> = {
  'job/StageDone': { stage: 'string', summary: 'string' },
  'job/JobFailed': { error: 'string' },
};

export const JobCancel = declareMessage({
  protocol: JOB,
  type: 'JobCancel',
  from: 'coordinator',
  to: ['guest', 'host', 'bank'],
  privacy: 'metadata',
  fields: {},
  discloses: 'that the job was cancelled',
});

export const JobStopped = declareMessage({
  protocol: JOB,
  type: 'JobStopped',
  from: 'coordinator',
  to: ['guest', 'host', 'bank'],
  privacy: 'metadata',
  fields: { code: oneOf(ERROR_CODES) },
  discloses: 'that the job failed (a party failed, the analyst refused it, or it made no progress in time), with the error code only: each party marks it failed, terminal there',
});

export const PartialScoreRequest = declareMessage({
  protocol: 'score',
  type: 'PartialScoreRequest',
  from: 'guest',
  to: ['host'],
  privacy: 'metadata',
  fields: { request: 'string', model: 'string', purpose: 'string', ids: 'string[]' },
  discloses:
    'that the bank is scoring these enterprises with this model, for this purpose: only enterprises the bank holds a valid authorisation for in its copy (server/grants.ts); the platform checks each again',
});

export const PartialScores = declareMessage({
  protocol: 'score',
  type: 'PartialScores',
  from: 'host',
  to: ['guest'],
  privacy: 'score',
  fields: { points: 'f64', maxPoints: 'int', outcomes: 'string[]' },
  discloses:
    "per requested enterprise, the platform's integer partial points (the sum over its characteristics) when it is known and authorised, or the coded reason it is not; and the highest partial points possible. Under `partial` nothing finer than that sum. Under `full`, where the bank holds the platform's points table, the sum narrows down the enterprise's platform bins: with default_credit's 6 platform characteristics the bank decodes 76% of bins (all of them for 45% of enterprises) against 56% (7%) from the bin shares alone; with the lab's 20, 58% against 57% (tests/attacks/decode-platform-bins)",
});

export const PartialLogitRequest = declareMessage({
  protocol: 'score-lr',
  type: 'PartialLogitRequest',
  from: 'guest',
  to: ['host'],
  privacy: 'metadata',
  fields: { request: 'string', model: 'string', purpose: 'string', ids: 'string[]' },
  discloses: 'that the bank is scoring these enterprises with this `lr` model, for this purpose: only enterprises it holds a valid authorisation for in its copy; the platform checks each again',
});

export const PartialLogits = declareMessage({
  protocol: 'score-lr',
  type: 'PartialLogits',
  from: 'host',
  to: ['guest'],
  privacy: 'score',
  fields: { logits: 'f64', outcomes: 'string[]' },
  discloses:
    "`lr` models: per requested enterprise, known and authorised, the platform's partial logit (its weights times its prepared columns: its raw values imputed and z-scored with its own training statistics), or the coded reason there is none: what lr-eval/HostTestScores gives for test rows, the disclosure of federated LR scoring (the bank's logit less its own part). No raw value, weight or statistic is sent, but the partial logit is affine in the platform's raw values: a bank that knows the platform's values of F + 1 enterprises it may score (F platform features) solves for every platform weight per raw unit (w_j/s_j) and the offset; breast, F = 20: 21 enterprises, all 20 to 3e-11. Only scoring purposes (not modelling)",
});

export const EventsRequest = declareMessage({
  protocol: 'monitor',
  type: 'EventsRequest',
  from: 'guest',
  to: ['host'],
  privacy: 'metadata',
  fields: { request: 'string', model: 'string', purpose: 'string', ids: 'string[]' },
  discloses:
    'which enterprises the bank monitors under this model (its post-loan portfolio), only those it holds a valid post-loan authorisation for in its copy; the platform checks each again',
});

export const Events = declareMessage({
  protocol: 'monitor',
  type: 'Events',
  from: 'host',
  to: ['guest'],
  privacy: 'score',
  fields: { ids: 'string[]', kinds: 'string[]', refused: 'int' },
  discloses:
    'for authorised monitored enterprises only, each new dishonest-debtor or enforcement record on the platform since the model was deployed or last checked (public credit records), and how many enterprises were refused for want of authorisation',
});

export const GrantsRequest = declareMessage({
  protocol: 'authz',
  type: 'GrantsRequest',
  from: 'guest',
  to: ['host'],
  privacy: 'metadata',
  fields: { request: 'string', model: 'string', purpose: 'string' },
  discloses: 'that the bank refreshes its copy of its own authorisations for this purpose, before scoring or monitoring with this model; no enterprise id',
});

export const Grants = declareMessage({
  protocol: 'authz',
  type: 'Grants',
  from: 'host',
  to: ['guest'],
  privacy: 'metadata',
  fields: { ids: 'string[]', validFrom: 'f64', validTo: 'f64', revokedAt: 'f64' },
  discloses:
    "the platform's records of the requesting bank's own authorisations for this purpose (enterprise, validity, revocation time or 0): what the bank obtained from the enterprises itself; nothing about other banks' authorisations",
});

/**
 * A node's audit-chain head, to another pinned node (server/audit-heads.ts): the request carries
 * the sender's head, the reply the receiver's; each records the other's in its own chain. Not part
 * of any job (job `@heads`); sent and received by any node.
 */
export const ChainHeadMessage = declareMessage({
  protocol: 'audit',
  type: 'ChainHead',
  from: 'node',
  to: ['node'],
  privacy: 'metadata',
  fields: { node: 'string', seq: 'int', at: 'int', hash: 'string', signature: 'string' },
  discloses: "the sender's audit chain head: how many records its chain holds, the time and SHA-256 of the last one and the sender's signature over it; nothing of what the records say",
});

/** Protocol, type and round of a message from its key (job|protocol|type|round|from|to). */
export function metaOfKey(key: string): { protocol: string; type: string; round: number; privacy: string } {
  const [, protocol = '', type = '', round = '0'] = key.split('|');
  let privacy = 'undeclared';
  try {
    privacy = messageSpec(protocol, type).privacy;
  } catch {
    /* recorded as undeclared */
  }
  return { protocol, type, round: Number(round), privacy };
}
