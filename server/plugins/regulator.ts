/**
 * The regulator console's API (server/regulator.ts builds the app): the record sets and keys file
 * it was started with, and the verification of one set under those keys. Behind the same check as
 * a node's admin routes (plugins/console-auth.ts): the console session with its CSRF token, or the
 * token in `x-admin-token`.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { IndomainError } from '../../engine/errors.ts';
import { adminCheck, type ConsoleSessions } from './console-auth.ts';
import { errors, open, security } from './schemas.ts';

export interface RegulatorPluginOptions {
  readonly records: readonly string[];
  readonly keys: string;
  readonly token: string;
  readonly sessions: ConsoleSessions;
  readonly verify: (set: string) => Promise<{ ok: boolean }>;
}

export const regulatorPlugin: FastifyPluginAsyncTypebox<RegulatorPluginOptions> = async (app, o) => {
  app.addHook('onRequest', adminCheck(o.token, o.sessions));
  app.get(
    '/v1/admin/node',
    { schema: { summary: 'This console (the regulator)', security, response: { 200: Type.Object({ name: Type.String(), role: Type.String(), peers: Type.Array(Type.Object({ name: Type.String(), role: Type.String(), console: Type.String() })) }), ...errors } } },
    async () => ({ name: 'regulator', role: 'regulator', peers: [] }),
  );
  app.get(
    '/v1/admin/regulator/sources',
    { schema: { summary: 'The record sets and the pinned keys file this console was started with', security, response: { 200: Type.Object({ records: Type.Array(Type.String()), keys: Type.String() }), ...errors } } },
    async () => ({ records: [...o.records], keys: o.keys }),
  );
  app.post(
    '/v1/admin/regulator/verify',
    {
      schema: {
        summary: "Verify one record set under the regulator's pinned keys: findings with their records, the leakage ledger, authorisation coverage per job",
        security,
        body: Type.Object({ set: Type.Integer({ minimum: 0, description: 'index into the record sets' }) }, { additionalProperties: false }),
        response: { 200: open({ ok: Type.Boolean() }), ...errors },
      },
    },
    async (req) => {
      const set = o.records[req.body.set];
      if (set === undefined) throw new IndomainError('SRV_NOT_FOUND', `record set ${req.body.set}`);
      return o.verify(set);
    },
  );
};
