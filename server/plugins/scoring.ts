/**
 * The bank's scoring: online `POST /v1/score` (behind the admin token, like every route of the
 * admin plugin) and federated batch scoring of a registered dataset, for scorecards and `lr`
 * models alike (the model's job pipeline picks the scorer); post-loan monitoring as its child.
 * The bank's copy of its authorisations and its scorers are decorated here: their caches and
 * coalescing queues belong to this instance.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { BankGrants } from '../grants.ts';
import { BankLrScorer } from '../scoring/bank-lr-scorer.ts';
import { BankScorer } from '../scoring/bank-scorer.ts';
import { monitoringPlugin } from './monitoring.ts';
import { errors, ScoringPurpose, security } from './schemas.ts';

declare module 'fastify' {
  interface FastifyInstance {
    bankScorer: BankScorer;
    bankLrScorer: BankLrScorer;
    bankGrants: BankGrants;
  }
}

const Score = Type.Object(
  {
    model: Type.String({ minLength: 1 }),
    id: Type.String({ minLength: 1, description: 'the enterprise id (at most --max-id-length characters, SRV_LIMIT_EXCEEDED otherwise)' }),
    features: Type.Optional(Type.Record(Type.String(), Type.Union([Type.Number(), Type.Null()]), { description: "the bank's own raw features of the enterprise, each a number, or null (or left out) for no value (an lr model imputes it: README \"Missing values\"): a string is refused (SRV_BAD_REQUEST naming it, no coercion), an unknown name is SC_BAD_FEATURE" })),
    purpose: Type.Optional(ScoringPurpose),
  },
  { additionalProperties: false },
);

const ScoreResult = Type.Object({
  model: Type.String(),
  id: Type.String(),
  score: Type.Integer(),
  probability: Type.Number(),
  band: Type.String(),
  reasonCodes: Type.Array(Type.String()),
  partial: Type.Object({ bank: Type.Integer(), platform: Type.Integer() }),
});

const LrScoreResult = Type.Object({
  model: Type.String(),
  id: Type.String(),
  probability: Type.Number({ description: 'the logistic of logit' }),
  logit: Type.Number(),
  partial: Type.Object({ bank: Type.Number({ description: "the bank's partial logit, intercept included" }), platform: Type.Number({ description: "the platform's partial logit" }) }),
});

export const scoringPlugin: FastifyPluginAsyncTypebox = async (app) => {
  const { node } = app;
  app.decorate('bankGrants', new BankGrants(node.identity, node.client, node.unsafe.askUnauthorised !== true));
  app.decorate('bankScorer', new BankScorer(node.store, node.peers, node.client, app.bankGrants, node.limits));
  app.decorate('bankLrScorer', new BankLrScorer(node.store, node.peers, node.client, app.bankGrants, node.limits));
  const scorer = app.bankScorer;
  const lr = app.bankLrScorer;

  app.post(
    '/v1/score',
    { schema: { summary: "Score one enterprise online: bank features here, the platform's partial score (scorecard) or partial logit (lr) over signed HTTP", security, body: Score, response: { 200: Type.Union([ScoreResult, LrScoreResult]), ...errors } } },
    async (req) => (lr.owns(req.body.model) ? lr : scorer).score(req.body.model, req.body.id, req.body.features ?? {}, req.body.purpose ?? 'pre-loan'),
  );
  app.post(
    '/v1/admin/score-batch',
    {
      schema: {
        summary: "Federated batch scoring of a registered dataset (the bank's book) with a deployed scorecard or lr model; writes a CSV of scores in the bank's data directory",
        security,
        body: Type.Object({ model: Type.String({ minLength: 1 }), dataset: Type.String({ minLength: 1 }), purpose: Type.Optional(ScoringPurpose) }, { additionalProperties: false }),
        response: { 200: Type.Object({ rows: Type.Integer(), scored: Type.Integer(), outcomes: Type.Record(Type.String(), Type.Integer()), file: Type.String(), seconds: Type.Number() }), ...errors },
      },
    },
    async (req) => (lr.owns(req.body.model) ? lr : scorer).scoreBatch(req.body.model, req.body.dataset, req.body.purpose ?? 'in-loan'),
  );
  await app.register(monitoringPlugin);
};
