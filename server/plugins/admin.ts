/**
 * The administrative endpoints, one encapsulated plugin behind the node's admin token (header
 * `x-admin-token`), checked by this plugin's own unconditional onRequest hook: it covers exactly
 * the routes registered in it and its children, whatever the request text looked like
 * (`/v1/%61dmin/…`, absolute-form `http://x/v1/admin/…`), never by matching `req.url` (raw) against
 * a prefix while the router decodes and normalises (rule 13). Children: datasets, jobs, reports,
 * authorisations (platform), scoring and monitoring (bank).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { IndomainError } from '../../engine/errors.ts';
import { authorisationsPlugin } from './authorisations.ts';
import { datasetsPlugin } from './datasets.ts';
import { jobsPlugin } from './jobs.ts';
import { reportsPlugin } from './reports.ts';
import { scoringPlugin } from './scoring.ts';

export const adminPlugin: FastifyPluginAsyncTypebox = async (app) => {
  const { node } = app;
  // Compared as SHA-256 digests: constant time, and the token's length is not revealed either.
  const digest = (s: string) => createHash('sha256').update(s).digest();
  const expected = digest(node.adminToken);
  const checkToken = async (req: FastifyRequest) => {
    if (!timingSafeEqual(digest(String(req.headers['x-admin-token'] ?? '')), expected)) throw new IndomainError('SRV_ADMIN_TOKEN');
  };
  if (node.unsafe.authCheck === 'url-prefix') {
    // The old check, kept for tests/attacks/admin-paths.test.ts only: req.url is the raw request text.
    app.addHook('onRequest', async (req: FastifyRequest) => {
      if (!req.url.startsWith('/v1/admin/') && !req.url.startsWith('/v1/score')) return;
      await checkToken(req);
    });
  } else app.addHook('onRequest', checkToken);
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) app.routeTable.admin.push({ method, url: r.url! });
  });
  await app.register(datasetsPlugin, { prefix: '/v1/admin/datasets' });
  await app.register(jobsPlugin, { prefix: '/v1/admin/jobs' });
  await app.register(reportsPlugin, { prefix: '/v1/admin/jobs' });
  if (node.authz) await app.register(authorisationsPlugin, { prefix: '/v1/admin' });
  if (node.role === 'bank') await app.register(scoringPlugin);
};
