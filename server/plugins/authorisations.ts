/** The platform's authorisation registry: import a CSV under the data root, grant, revoke, query. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { checkRecord } from '../authz.ts';
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
    { schema: { summary: 'Revoke the authorisations of an enterprise for a bank and purpose', security, body: Type.Object({ uscc: Type.String(), bank: Type.String(), purpose: Purpose }, { additionalProperties: false }), response: { 200: Type.Object({ revoked: Type.Integer() }), ...errors } } },
    async (req) => ({ revoked: authz.revoke(req.body.uscc, req.body.bank, req.body.purpose) }),
  );
  app.get(
    '/authorisations',
    { schema: { summary: 'Query authorisations by uscc and/or bank', security, querystring: Type.Object({ uscc: Type.Optional(Type.String()), bank: Type.Optional(Type.String()) }), response: { 200: Type.Array(Authorisation), ...errors } } },
    async (req) => authz.query({ ...(req.query.uscc ? { uscc: req.query.uscc } : {}), ...(req.query.bank ? { bank: req.query.bank } : {}) }),
  );
};
