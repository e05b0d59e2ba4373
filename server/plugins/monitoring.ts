/** The bank's post-loan monitoring: a run over a portfolio dataset with a deployed scorecard, and its alerts. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { BankMonitor } from '../monitoring/bank-monitor.ts';
import { errors, open, security } from './schemas.ts';

declare module 'fastify' {
  interface FastifyInstance {
    bankMonitor: BankMonitor;
  }
}

const Alert = Type.Object({
  seq: Type.Optional(Type.Integer()),
  model: Type.String(),
  runAt: Type.Number(),
  kind: Type.String(),
  enterprise: Type.Union([Type.String(), Type.Null()]),
  detail: open({}),
});

const Run = Type.Object(
  {
    model: Type.String({ minLength: 1 }),
    dataset: Type.String({ minLength: 1 }),
    dropPoints: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'alert when a score fell by more than this (default 20)' })),
    stabilityThreshold: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'alert when a stability index exceeds this (default 0.1)' })),
  },
  { additionalProperties: false },
);

const RunResult = open({
  rows: Type.Integer(),
  scored: Type.Integer(),
  refused: Type.Integer(),
  scoreStability: Type.Number(),
  featureStability: Type.Record(Type.String(), Type.Number()),
  migration: Type.Record(Type.String(), Type.Record(Type.String(), Type.Integer())),
  alerts: Type.Record(Type.String(), Type.Integer()),
  platformRefused: Type.Integer(),
  refusedByBank: Type.Integer(),
});

export const monitoringPlugin: FastifyPluginAsyncTypebox = async (app) => {
  const { node } = app;
  app.decorate('bankMonitor', new BankMonitor(node.store, node.peers, app.bankScorer, node.client, app.bankGrants, node.limits));
  const monitor = app.bankMonitor;
  app.post('/v1/admin/monitor', { schema: { summary: 'Run post-loan monitoring of a portfolio dataset with a deployed scorecard; stores alerts', security, body: Run, response: { 200: RunResult, ...errors } } }, async (req) =>
    monitor.run({ model: req.body.model, dataset: req.body.dataset, dropPoints: req.body.dropPoints ?? 20, stabilityThreshold: req.body.stabilityThreshold ?? 0.1 }),
  );
  app.get('/v1/admin/alerts', { schema: { summary: 'Alerts pushed by monitoring runs', security, querystring: Type.Object({ model: Type.Optional(Type.String()) }), response: { 200: Type.Array(Alert), ...errors } } }, async (req) => monitor.alerts(req.query.model));
};
