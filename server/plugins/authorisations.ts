/**
 * The platform's authorisation registry: import a CSV under the data root or sent as text (the
 * console's upload, checked line by line), grant, revoke with a reason, query, count by status.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { checkCsv, checkRecord, status } from '../authz.ts';
import { errors, Purpose, security } from './schemas.ts';

const Authorisation = Type.Object({
  uscc: Type.String(),
  bank: Type.String(),
  purpose: Type.String(),
  validFrom: Type.Number(),
  validTo: Type.Number(),
  revokedAt: Type.Union([Type.Number(), Type.Null()]),
  sourceRef: Type.String(),
});

/** One record as in the CSV (server/authz.ts checkRecord checks each field, naming it). */
const Grant = Type.Object(
  {
    uscc: Type.String(),
    bank: Type.String(),
    purpose: Type.String(),
    valid_from: Type.String(),
    valid_to: Type.String(),
    revoked_at: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    source_ref: Type.String(),
  },
  { additionalProperties: false },
);

export const authorisationsPlugin: FastifyPluginAsyncTypebox = async (app) => {
  const { node } = app;
  const authz = node.authz!;
  const dataFile = (requested: string) => (node.unsafe.dataPaths !== 'unconfined' ? node.dataRoot.read(requested) : undefined);

  app.post(
    '/authorisations/import',
    { schema: { summary: 'Import authorisations from a CSV file on this node (all or nothing)', security, body: Type.Object({ path: Type.String({ minLength: 1, maxLength: 4096 }) }, { additionalProperties: false }), response: { 200: Type.Object({ imported: Type.Integer() }), ...errors } } },
    async (req) => authz.importCsv(dataFile(req.body.path) ?? req.body.path),
  );
  app.post('/authorisations', { schema: { summary: 'Grant one authorisation', security, body: Grant, response: { 201: Authorisation, ...errors } } }, async (req, reply) => {
    const rec = checkRecord(Object.fromEntries(Object.entries(req.body).map(([k, v]) => [k, v ?? ''])), 1, 'request body');
    authz.grant(rec);
    return reply.status(201).send(rec);
  });
  app.post(
    '/authorisations/revoke',
    {
      schema: {
        summary: 'Revoke the authorisations of an enterprise for a bank and purpose (the reason goes into the audit chain)',
        security,
        body: Type.Object({ uscc: Type.String(), bank: Type.String(), purpose: Purpose, reason: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ revoked: Type.Integer() }), ...errors },
      },
    },
    async (req) => ({ revoked: authz.revoke(req.body.uscc, req.body.bank, req.body.purpose, Date.now(), req.body.reason) }),
  );
  app.get(
    '/authorisations',
    { schema: { summary: 'Query authorisations by uscc and/or bank', security, querystring: Type.Object({ uscc: Type.Optional(Type.String()), bank: Type.Optional(Type.String()) }), response: { 200: Type.Array(Authorisation), ...errors } } },
    async (req) => authz.query({ ...(req.query.uscc ? { uscc: req.query.uscc } : {}), ...(req.query.bank ? { bank: req.query.bank } : {}) }),
  );
  app.post(
    '/authorisations/import-text',
    {
      schema: {
        summary: 'Import authorisations from CSV text (the console upload): every line checked; all or nothing, with one coded error per bad line',
        security,
        body: Type.Object({ csv: Type.String({ minLength: 1 }), name: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ imported: Type.Integer(), problems: Type.Array(Type.Object({ line: Type.Integer(), field: Type.String(), code: Type.String(), message: Type.String() })) }), ...errors },
      },
    },
    async (req) => {
      const { records, problems } = checkCsv(req.body.csv, req.body.name);
      if (problems.length > 0) return { imported: 0, problems: problems.map((e) => ({ line: e.location?.line ?? 0, field: e.location?.field ?? '', code: e.code, message: e.message })) };
      return { ...authz.importChecked(records, `console upload ${req.body.name}`, req.body.csv), problems: [] };
    },
  );
  app.get(
    '/authorisations/summary',
    { schema: { summary: 'Authorisation records by status now, overall and per bank', security, response: { 200: Type.Object({ total: Type.Integer(), byStatus: Type.Record(Type.String(), Type.Integer()), byBank: Type.Record(Type.String(), Type.Record(Type.String(), Type.Integer())) }), ...errors } } },
    async () => {
      const now = Date.now();
      const byStatus: Record<string, number> = {};
      const byBank: Record<string, Record<string, number>> = {};
      const all = authz.query({}, Infinity);
      for (const a of all) {
        const s = status([a], now);
        byStatus[s] = (byStatus[s] ?? 0) + 1;
        const b = (byBank[a.bank] ??= {});
        b[s] = (b[s] ?? 0) + 1;
      }
      return { total: all.length, byStatus, byBank };
    },
  );
};
