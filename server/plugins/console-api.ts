/**
 * Read-only routes the console needs beyond the administrative API, behind the same admin hook
 * (a child of plugins/admin.ts): this node and its peers' consoles; on the platform, what a job
 * will read and disclose (the approval queue); on a bank, a scorecard job's validation report, its
 * deliverables (PMML, SQL, JSON, scores CSV), the deployed models and the monitoring runs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { IndomainError } from '../../engine/errors.ts';
import type { ScorecardModel } from '../../models/export/model.ts';
import { declaredMessages } from '../../protocols/message.ts';
import { isConsortium, parseAnySpec, trainingProtocol } from '../jobs/spec.ts';
import { errors, JobId, open, security } from './schemas.ts';

/** The deliverables of a scorecard or `lr` job a bank may download, with their media types. */
export const JOB_FILES: Record<string, string> = {
  'report.json': 'application/json',
  'report.md': 'text/markdown; charset=utf-8',
  'model.json': 'application/json',
  'scorecard.pmml': 'application/xml',
  'scorecard.sql': 'text/plain; charset=utf-8',
  'lr.pmml': 'application/xml',
  'lr.sql': 'text/plain; charset=utf-8',
  'scores.csv': 'text/csv; charset=utf-8',
};

/** The protocols each bank + platform pipeline runs, three-party mode (their declared host messages are what the platform discloses). */
const PIPELINE_PROTOCOLS: Record<string, readonly string[]> = {
  lr: ['psi', 'vfl-lr', 'lr-eval'],
  scorecard: ['psi', 'vfl-lr', 'scorecard'],
};

const Peer = Type.Object({ name: Type.String(), role: Type.String(), console: Type.String() });

export const consoleApiPlugin: FastifyPluginAsyncTypebox = async (app) => {
  const { node } = app;
  const { store } = node;
  const job = (id: string) => {
    const row = store.job(id);
    if (!row) throw new IndomainError('SRV_NOT_FOUND', `job "${id}"`);
    return row;
  };

  app.get(
    '/v1/admin/node',
    { schema: { summary: 'This node and the consoles of its pinned peers', security, response: { 200: Type.Object({ name: Type.String(), role: Type.String(), peers: Type.Array(Peer) }), ...errors } } },
    async () => ({
      name: node.identity.name,
      role: node.role,
      peers: [...node.peers.values()].filter((p) => p.name !== node.identity.name).map((p) => ({ name: p.name, role: p.role, console: `${p.url}/console/` })),
    }),
  );

  if (node.role === 'platform') {
    const Disclosure = Type.Object({ protocol: Type.String(), type: Type.String(), to: Type.Array(Type.String()), privacy: Type.String(), discloses: Type.String() });
    app.get(
      '/v1/admin/jobs/:id/plan',
      {
        schema: {
          summary: "What a job will read of this platform's data and what the platform will send, by declared message (the approval queue)",
          security,
          params: JobId,
          response: { 200: Type.Object({ pipeline: Type.String(), bank: Type.String(), purpose: Type.String(), dataset: Type.Object({ name: Type.String(), registered: Type.Boolean(), rows: Type.Integer(), features: Type.Array(Type.String()) }), discloses: Type.Array(Disclosure) }), ...errors },
        },
      },
      async (req) => {
        const spec = parseAnySpec(job(req.params.id).spec);
        if (isConsortium(spec)) throw new IndomainError('SRV_BAD_REQUEST', 'a consortium job does not read platform data');
        const d = store.dataset(spec.host.dataset);
        // A two-party job trains with vfl-lr-2p in place of vfl-lr, and its scorecard adds scorecard-2p (jobs/spec.ts messageOfJob).
        const two = trainingProtocol(spec) === 'vfl-lr-2p';
        const protocols = [...(PIPELINE_PROTOCOLS[spec.pipeline] ?? []).map((p) => (p === 'vfl-lr' ? trainingProtocol(spec) : p)), ...(two && spec.pipeline === 'scorecard' ? ['scorecard-2p'] : [])];
        const discloses = declaredMessages()
          .filter((m) => protocols.includes(m.protocol) && [m.from].flat().includes('host'))
          .map((m) => ({ protocol: m.protocol, type: m.type, to: [...m.to], privacy: m.privacy, discloses: m.discloses }));
        return {
          pipeline: spec.pipeline,
          bank: spec.guest.node,
          purpose: 'modelling',
          dataset: { name: spec.host.dataset, registered: d !== undefined, rows: d?.rows ?? 0, features: d ? (JSON.parse(d.features) as string[]) : [] },
          discloses,
        };
      },
    );
  }

  if (node.role !== 'bank') return;
  app.get('/v1/admin/jobs/:id/report', { schema: { summary: "A scorecard job's validation report (this bank's own)", security, params: JobId, response: { 200: open({}), ...errors } } }, async (req) => {
    job(req.params.id);
    const r = store.model(req.params.id, 'report');
    if (!r) throw new IndomainError('SRV_NOT_FOUND', `no validation report for job "${req.params.id}" (not a completed scorecard job on this bank)`);
    return r as Record<string, unknown>;
  });
  app.get(
    '/v1/admin/jobs/:id/files/:file',
    { schema: { summary: "Download one deliverable of a job: a scorecard's report.json, report.md, model.json, scorecard.pmml, scorecard.sql, scores.csv; an lr model's model.json, lr.pmml, lr.sql (the bank's part, the platform's partial logit an input)", security, params: Type.Object({ id: JobId.properties.id, file: Type.Union(Object.keys(JOB_FILES).map((f) => Type.Literal(f))) }), response: { 200: Type.Unsafe<Uint8Array>({ type: 'string', format: 'binary', description: 'the file' }), ...errors } } },
    async (req, reply) => {
      job(req.params.id);
      // The job id is checked against the store and the name against a fixed list: no path is the caller's.
      const path = join(store.dir, 'jobs', req.params.id, req.params.file);
      if (!existsSync(path)) throw new IndomainError('SRV_NOT_FOUND', `job "${req.params.id}" has no ${req.params.file}`);
      return reply
        .header('content-type', JOB_FILES[req.params.file]!)
        .header('content-disposition', `attachment; filename="${req.params.id}-${req.params.file}"`)
        .send(readFileSync(path));
    },
  );
  app.get(
    '/v1/admin/models',
    { schema: { summary: 'Scorecards deployed on this bank, with the bank-side input fields of each', security, response: { 200: Type.Array(Type.Object({ model: Type.String(), policy: Type.String(), bankFeatures: Type.Array(Type.String()), createdAt: Type.Number() })), ...errors } } },
    async () =>
      (store.db.prepare("SELECT job, model, created_at AS createdAt FROM models WHERE name = 'scorecard' ORDER BY created_at").all() as { job: string; model: string; createdAt: number }[]).map((r) => {
        const m = JSON.parse(r.model) as ScorecardModel;
        return { model: r.job, policy: m.policy, bankFeatures: m.characteristics.filter((c) => c.party === 'guest').map((c) => c.field.replace(/^guest_/, '')), createdAt: r.createdAt };
      }),
  );
  app.get(
    '/v1/admin/monitor/runs',
    { schema: { summary: 'Monitoring runs that raised alerts, newest first, with alert counts by kind', security, response: { 200: Type.Array(Type.Object({ model: Type.String(), runAt: Type.Number(), alerts: Type.Record(Type.String(), Type.Integer()) })), ...errors } } },
    async () => {
      const rows = store.db.prepare('SELECT model, run_at AS runAt, kind, COUNT(*) AS n FROM alerts GROUP BY model, run_at, kind ORDER BY run_at DESC').all() as { model: string; runAt: number; kind: string; n: number }[];
      const runs = new Map<string, { model: string; runAt: number; alerts: Record<string, number> }>();
      for (const r of rows) {
        const k = `${r.model}|${r.runAt}`;
        const run = runs.get(k) ?? { model: r.model, runAt: r.runAt, alerts: {} };
        run.alerts[r.kind] = r.n;
        runs.set(k, run);
      }
      return [...runs.values()];
    },
  );
};
