/**
 * Job control between the coordinator and the nodes (protocol `job`), and the evaluation message
 * of the logistic-regression pipeline. Declared like every protocol message: sender, receiver,
 * privacy class and what the receiver learns.
 */
import { declareMessage, messageSpec } from '../protocols/message.ts';

export const JOB = 'job';

export const JobStart = declareMessage({
  protocol: JOB,
  type: 'JobStart',
  from: 'coordinator',
  to: ['guest', 'host'],
  privacy: 'metadata',
  fields: { spec: 'string' },
  discloses: 'the job specification: parties, dataset names, pipeline and parameters',
});

export const StageStart = declareMessage({
  protocol: JOB,
  type: 'StageStart',
  from: 'coordinator',
  to: ['guest', 'host'],
  privacy: 'metadata',
  fields: { stage: 'string' },
  discloses: 'that a pipeline stage starts',
});

export const StageDone = declareMessage({
  protocol: JOB,
  type: 'StageDone',
  from: ['guest', 'host'],
  to: ['coordinator'],
  privacy: 'aggregate',
  fields: { stage: 'string', summary: 'string' },
  discloses:
    "that the sender finished a stage, with its summary: the intersection size after PSI; the kept feature names after binning; after training, the sender's own weights (which the arbiter can already compute from its steps); after evaluation, the bank's test metrics (AUC, KS) of the joint and the bank-only model",
});

export const HostTestScores = declareMessage({
  protocol: 'lr-eval',
  type: 'HostTestScores',
  from: 'host',
  to: ['guest'],
  privacy: 'score',
  fields: { logit: 'f64' },
  discloses:
    "the host's partial logit for each test-set enterprise, so that the bank can score and evaluate the joint model (the disclosure of federated scoring); in the scorecard pipeline under `full`, where the bank holds the host's coefficients and WOE, a float partial logit gives away every platform bin of the enterprise (tests/attacks/decode-platform-bins, on the same logits from scorecard/HostPartialScores)",
});

export const JobFailed = declareMessage({
  protocol: JOB,
  type: 'JobFailed',
  from: ['guest', 'host'],
  to: ['coordinator'],
  privacy: 'metadata',
  fields: { error: 'string' },
  discloses: "that the sender's part of the job failed, with the error code and message",
});

export const JobCancel = declareMessage({
  protocol: JOB,
  type: 'JobCancel',
  from: 'coordinator',
  to: ['guest', 'host'],
  privacy: 'metadata',
  fields: {},
  discloses: 'that the job was cancelled',
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
