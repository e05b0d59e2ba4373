/**
 * The Fastify service of a node (role `platform`, `bank` or `coordinator`), as a tree of plugins:
 *   - errors: every failure answers `{ code, message }` with the code's HTTP status, never a stack;
 *   - openapi: @fastify/swagger, served at GET /openapi.json;
 *   - peer: POST /v1/messages, signed node-to-node messages (msgpack, size-limited);
 *   - admin: datasets, jobs, authorisations, monitoring and POST /v1/score, behind the node's admin
 *     token (header `x-admin-token`), checked by an unconditional onRequest hook of this
 *     encapsulated plugin: it covers exactly the routes registered in it, whatever the request
 *     text looked like (`/v1/%61dmin/…`, absolute-form `http://x/v1/admin/…`), never by matching
 *     `req.url` (raw) against a prefix while the router decodes and normalises (rule 13);
 *   - GET /v1/health, GET /v1/identity and GET /openapi.json are public.
 * Data files named in admin requests are read only under the node's data root (server/data-root.ts).
 * TLS: pass `https: { key, cert }` (PEM) in the options to serve HTTPS; peers' URLs then use https.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { loadCsv, parseCsv, type LoadOptions } from '../engine/csv.ts';
import type { DataRoot } from './data-root.ts';
import { IndomainError, isIndomainError } from '../engine/errors.ts';
import { parseJobSpec } from './job.ts';
import { MESSAGE_PATH, type NodeRuntime, type Peer } from './runtime.ts';
import { RequestVerifier } from './signing.ts';
import { PEER_SCORE_PATH, type BankScorer, type PlatformScorer } from './online.ts';
import { PEER_MONITOR_PATH, type BankMonitor, type PlatformMonitor } from './monitor.ts';
import { PEER_GRANTS_PATH, type PlatformGrants } from './grants.ts';
import { checkRecord, PURPOSES, type AuthorisationRegistry, type Purpose } from './authz.ts';
import type { Identity } from './signing.ts';

export interface AppOptions {
  /** Online scoring: the platform's side (platform nodes) or the bank's (bank nodes). */
  readonly platformScorer?: PlatformScorer;
  readonly bankScorer?: BankScorer;
  /** Post-loan monitoring: the platform's side or the bank's. */
  readonly platformMonitor?: PlatformMonitor;
  readonly bankMonitor?: BankMonitor;
  /** A bank's own authorisation records, for its copy (platform nodes). */
  readonly platformGrants?: PlatformGrants;
  /** The platform's authorisation registry (platform nodes only). */
  readonly authz?: AuthorisationRegistry;
  readonly runtime: NodeRuntime;
  readonly identity: Identity;
  readonly role: string;
  readonly peers: ReadonlyMap<string, Peer>;
  readonly adminToken: string;
  /** The directory admin requests may read data files from. */
  readonly dataRoot: DataRoot;
  /**
   * TEST ONLY, for tests/attacks: 'url-prefix' restores the old check on the raw URL text (the
   * bypass), 'route' (the default) checks every route of the admin plugin.
   */
  readonly authCheck?: 'route' | 'url-prefix';
  /** TEST ONLY, for tests/attacks: 'unconfined' reads any path the process can (the old handling). */
  readonly dataPaths?: 'root' | 'unconfined';
  /** Largest accepted message body, bytes (default 64 MiB: a round of the encrypted basis is ~15 MB). */
  readonly bodyLimit?: number;
  readonly https?: { key: string | Buffer; cert: string | Buffer };
  readonly logger?: boolean;
}

export interface RouteEntry {
  readonly method: string;
  readonly url: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route of the node, and those behind the admin token (collected as they are registered). */
    routeTable: { all: RouteEntry[]; admin: RouteEntry[] };
  }
}

const ERROR_SCHEMA = { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } as const;

export async function buildApp(o: AppOptions): Promise<FastifyInstance> {
  const bodyLimit = o.bodyLimit ?? 64 * 1024 * 1024;
  const app = Fastify({ logger: o.logger ?? false, bodyLimit, ...(o.https ? { https: o.https } : {}) } as Record<string, unknown>) as unknown as FastifyInstance;

  app.setErrorHandler((err: Error & { code?: string; statusCode?: number }, _req, reply) => {
    let e: IndomainError;
    if (isIndomainError(err)) e = err;
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') e = new IndomainError('SRV_BODY_TOO_LARGE', `more than ${bodyLimit} bytes`);
    else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY')
      e = new IndomainError('SRV_BAD_REQUEST', err.message);
    else if (err.code === 'FST_ERR_VALIDATION') e = new IndomainError('SRV_BAD_REQUEST', err.message);
    else e = new IndomainError('SRV_INTERNAL', err.statusCode && err.statusCode < 500 ? err.message : 'see the node log');
    if (e.code === 'SRV_INTERNAL') app.log.error(err);
    void reply.status(e.status).send(e.toJSON());
  });
  const routeTable: FastifyInstance['routeTable'] = { all: [], admin: [] };
  app.decorate('routeTable', routeTable);
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routeTable.all.push({ method, url: r.url! });
  });
  app.setNotFoundHandler((req, reply) => {
    // The caller's own method and path, without the query, cut short: nothing of the node's.
    const path = req.url.split('?')[0]!.slice(0, 200);
    const e = new IndomainError('SRV_NOT_FOUND', `no route ${req.method} ${path}`);
    void reply.status(e.status).send(e.toJSON());
  });
  app.addContentTypeParser('application/msgpack', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));

  await app.register(swagger, {
    openapi: {
      info: { title: `indomain ${o.role} node "${o.identity.name}"`, version: '0.1.0', description: 'Signed node-to-node messages and the administrative API of an indomain node.' },
      components: { securitySchemes: { adminToken: { type: 'apiKey', in: 'header', name: 'x-admin-token' } } },
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/v1/health', { schema: { summary: 'Liveness and identity' } }, async () => ({ name: o.identity.name, role: o.role, ok: true }));
  app.get('/v1/identity', { schema: { summary: "This node's Ed25519 public key (base64)" } }, async () => ({
    name: o.identity.name,
    role: o.role,
    publicKey: Buffer.from(o.identity.publicKey).toString('base64'),
  }));

  await app.register(peerPlugin(o));
  await app.register(adminPlugin(o));
  return app;
}

function peerPlugin(o: AppOptions): FastifyPluginAsync {
  return async (app) => {
    const keys = new Map([...o.peers.values()].map((p) => [p.name, p.publicKey]));
    const verifier = new RequestVerifier(keys, o.runtime.store);
    app.post(
      MESSAGE_PATH,
      { schema: { summary: 'A signed protocol message (msgpack envelope) from a pinned peer', response: { 202: { type: 'object', properties: { accepted: { type: 'boolean' }, duplicate: { type: 'boolean' } } }, '4xx': ERROR_SCHEMA } } },
      async (req, reply) => {
        const body = req.body;
        if (!(body instanceof Uint8Array)) throw new IndomainError('SRV_MALFORMED_BODY', 'expected an application/msgpack body');
        const sender = verifier.verify('POST', MESSAGE_PATH, req.headers as Record<string, string>, body);
        const r = o.runtime.accept(sender, body);
        return reply.status(202).send({ accepted: true, duplicate: r.duplicate });
      },
    );
    /** A signed msgpack request answered with a msgpack reply (the platform's online paths). */
    const signedRpc = (path: string, summary: string, answer: (sender: string, body: Uint8Array) => Promise<Uint8Array>) =>
      app.post(path, { schema: { summary } }, async (req, reply) => {
        const body = req.body;
        if (!(body instanceof Uint8Array)) throw new IndomainError('SRV_MALFORMED_BODY', 'expected an application/msgpack body');
        const sender = verifier.verify('POST', path, req.headers as Record<string, string>, body);
        const out = await answer(sender, body);
        return reply.status(200).header('content-type', 'application/msgpack').send(Buffer.from(out.buffer, out.byteOffset, out.byteLength));
      });
    const monitor = o.platformMonitor;
    if (monitor) signedRpc(PEER_MONITOR_PATH, "A bank's signed request for new public credit events on its authorised monitored enterprises", (s, b) => monitor.answer(s, b));
    const grants = o.platformGrants;
    if (grants) signedRpc(PEER_GRANTS_PATH, "A bank's signed request for its own authorisation records (its copy, so that it names only authorised enterprises)", (s, b) => grants.answer(s, b));
    const scorer = o.platformScorer;
    if (scorer) signedRpc(PEER_SCORE_PATH, "A bank's signed request for the platform's partial scores of authorised enterprises", (s, b) => scorer.answer(s, b));
  };
}

function adminPlugin(o: AppOptions): FastifyPluginAsync {
  return async (app) => {
    // Compared as SHA-256 digests: constant time, and the token's length is not revealed either.
    const digest = (s: string) => createHash('sha256').update(s).digest();
    const expected = digest(o.adminToken);
    const checkToken = async (req: FastifyRequest) => {
      if (!timingSafeEqual(digest(String(req.headers['x-admin-token'] ?? '')), expected)) throw new IndomainError('SRV_ADMIN_TOKEN');
    };
    if (o.authCheck === 'url-prefix') {
      // The old check, kept for tests/attacks/admin-paths.test.ts only: req.url is the raw request text.
      app.addHook('onRequest', async (req: FastifyRequest) => {
        if (!req.url.startsWith('/v1/admin/') && !req.url.startsWith('/v1/score')) return;
        await checkToken(req);
      });
    } else app.addHook('onRequest', checkToken);
    app.addHook('onRoute', (r) => {
      for (const method of [r.method].flat()) app.routeTable.admin.push({ method, url: r.url! });
    });
    const store = o.runtime.store;
    /** A data file named by an admin request: under the data root (the default), or anywhere (the old handling, tests only). */
    const dataFile = (requested: string) => {
      if (o.dataPaths !== 'unconfined') return o.dataRoot.read(requested);
      return { path: requested, name: requested, text: undefined };
    };
    const security = [{ adminToken: [] }];

    app.post('/v1/admin/datasets', { schema: { summary: 'Register a CSV dataset on this node (it stays here)', security } }, async (req) => {
      const b = req.body as { name?: unknown; path?: unknown; idColumn?: unknown; labelColumn?: unknown; uscc?: unknown; exclude?: unknown } | undefined;
      if (!b || typeof b.name !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(b.name)) throw new IndomainError('SRV_BAD_REQUEST', 'name must be 1–64 of A–Z a–z 0–9 . _ -', { field: 'name' });
      if (typeof b.path !== 'string' || typeof b.idColumn !== 'string') throw new IndomainError('SRV_BAD_REQUEST', 'path and idColumn are required', { field: 'path' });
      const options: LoadOptions = {
        idColumn: b.idColumn,
        ...(typeof b.labelColumn === 'string' ? { labelColumn: b.labelColumn } : {}),
        ...(b.uscc === true ? { idFormat: 'uscc' as const } : {}),
        ...(Array.isArray(b.exclude) ? { exclude: b.exclude.map(String) } : {}),
      };
      // Load it now: bad input is refused with its coded error before anything is stored.
      const f = dataFile(b.path);
      const t = f.text === undefined ? loadCsv(f.path, options) : parseCsv(f.text, options, f.name);
      store.putDataset({ name: b.name, path: f.path, options: JSON.stringify(options), rows: t.ids.length, features: JSON.stringify(t.featureNames) });
      return { name: b.name, rows: t.ids.length, features: t.featureNames, label: t.labelColumn ?? null };
    });
    app.get('/v1/admin/datasets', { schema: { summary: 'Datasets registered on this node', security } }, async () =>
      store.datasets().map((d) => ({ name: d.name, rows: d.rows, features: JSON.parse(d.features) as string[], registeredAt: d.registeredAt })),
    );
    app.get('/v1/admin/jobs', { schema: { summary: 'Jobs known to this node', security } }, async () => store.jobs().map(jobView));
    app.get('/v1/admin/jobs/:id', { schema: { summary: 'Status of one job, with per-stage progress', security } }, async (req) => {
      const row = store.job((req.params as { id: string }).id);
      if (!row) throw new IndomainError('SRV_NOT_FOUND', `job "${(req.params as { id: string }).id}"`);
      return { ...jobView(row), traffic: store.traffic(row.id) };
    });
    app.post('/v1/admin/jobs/:id/cancel', { schema: { summary: 'Cancel a job', security } }, async (req) => {
      const id = (req.params as { id: string }).id;
      o.runtime.cancel(id);
      return jobView(store.job(id)!);
    });
    if (o.authz) {
      const authz = o.authz;
      app.post('/v1/admin/authorisations/import', { schema: { summary: 'Import authorisations from a CSV file on this node (all or nothing)', security } }, async (req) => {
        const b = req.body as { path?: unknown } | undefined;
        if (!b || typeof b.path !== 'string') throw new IndomainError('SRV_BAD_REQUEST', 'path is required', { field: 'path' });
        const f = dataFile(b.path);
        return authz.importCsv(f.text === undefined ? f.path : f);
      });
      app.post('/v1/admin/authorisations', { schema: { summary: 'Grant one authorisation', security } }, async (req, reply) => {
        const b = (req.body ?? {}) as Record<string, unknown>;
        const rec = checkRecord(Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)])), 1, 'request body');
        authz.grant(rec);
        return reply.status(201).send(rec);
      });
      app.post('/v1/admin/authorisations/revoke', { schema: { summary: 'Revoke the authorisations of an enterprise for a bank and purpose', security } }, async (req) => {
        const b = (req.body ?? {}) as { uscc?: unknown; bank?: unknown; purpose?: unknown };
        if (typeof b.uscc !== 'string' || typeof b.bank !== 'string' || !(PURPOSES as readonly unknown[]).includes(b.purpose)) {
          throw new IndomainError('AUTH_BAD_RECORD', `uscc, bank and purpose (${PURPOSES.join(', ')}) are required`, { field: 'purpose' });
        }
        return { revoked: authz.revoke(b.uscc, b.bank, b.purpose as Purpose) };
      });
      app.get('/v1/admin/authorisations', { schema: { summary: 'Query authorisations by uscc and/or bank', security } }, async (req) => {
        const q = req.query as { uscc?: string; bank?: string };
        return authz.query({ ...(q.uscc ? { uscc: q.uscc } : {}), ...(q.bank ? { bank: q.bank } : {}) });
      });
      app.post('/v1/admin/jobs/:id/approve', { schema: { summary: "The platform analyst's approval of a job", security } }, async (req) => {
        const id = (req.params as { id: string }).id;
        o.runtime.approve(id, 'analyst');
        return jobView(store.job(id)!);
      });
      app.post('/v1/admin/jobs/:id/refuse', { schema: { summary: "The platform analyst's refusal of a job", security } }, async (req) => {
        const id = (req.params as { id: string }).id;
        const reason = String((req.body as { reason?: unknown } | undefined)?.reason ?? 'refused by the analyst');
        o.runtime.refuse(id, 'analyst', reason);
        return jobView(store.job(id)!);
      });
    }
    if (o.bankScorer) {
      const scorer = o.bankScorer;
      const scoreResponse = {
        type: 'object',
        properties: {
          model: { type: 'string' },
          id: { type: 'string' },
          score: { type: 'integer' },
          probability: { type: 'number' },
          band: { type: 'string' },
          reasonCodes: { type: 'array', items: { type: 'string' } },
          partial: { type: 'object', properties: { bank: { type: 'integer' }, platform: { type: 'integer' } } },
        },
      } as const;
      app.post('/v1/score', { schema: { summary: 'Score one enterprise online: bank features here, the platform partial score over signed HTTP', security, response: { 200: scoreResponse, '4xx': ERROR_SCHEMA } } }, async (req) => {
        const b = (req.body ?? {}) as { model?: unknown; id?: unknown; features?: unknown; purpose?: unknown };
        if (typeof b.model !== 'string' || typeof b.id !== 'string') throw new IndomainError('SRV_BAD_REQUEST', 'model and id are required', { field: typeof b.model !== 'string' ? 'model' : 'id' });
        const purpose = (b.purpose ?? 'pre-loan') as Purpose;
        if (!(PURPOSES as readonly unknown[]).includes(purpose)) throw new IndomainError('SRV_BAD_REQUEST', `purpose must be one of ${PURPOSES.join(', ')}`, { field: 'purpose' });
        return scorer.score(b.model, b.id, (b.features ?? {}) as Record<string, unknown>, purpose);
      });
    }
    if (o.bankScorer) {
      const scorer = o.bankScorer;
      app.post('/v1/admin/score-batch', { schema: { summary: "Federated batch scoring of a registered dataset (the bank's book) with a deployed scorecard", security } }, async (req) => {
        const b = (req.body ?? {}) as { model?: unknown; dataset?: unknown; purpose?: unknown };
        if (typeof b.model !== 'string' || typeof b.dataset !== 'string') throw new IndomainError('SRV_BAD_REQUEST', 'model and dataset are required', { field: typeof b.model !== 'string' ? 'model' : 'dataset' });
        const purpose = (b.purpose ?? 'in-loan') as Purpose;
        if (!(PURPOSES as readonly unknown[]).includes(purpose)) throw new IndomainError('SRV_BAD_REQUEST', `purpose must be one of ${PURPOSES.join(', ')}`, { field: 'purpose' });
        return scorer.scoreBatch(b.model, b.dataset, purpose);
      });
    }
    if (o.bankMonitor) {
      const monitor = o.bankMonitor;
      app.post('/v1/admin/monitor', { schema: { summary: 'Run post-loan monitoring of a portfolio dataset with a deployed scorecard; stores alerts', security } }, async (req) => {
        const b = (req.body ?? {}) as { model?: unknown; dataset?: unknown; dropPoints?: unknown; stabilityThreshold?: unknown };
        if (typeof b.model !== 'string' || typeof b.dataset !== 'string') throw new IndomainError('SRV_BAD_REQUEST', 'model and dataset are required', { field: typeof b.model !== 'string' ? 'model' : 'dataset' });
        const dropPoints = b.dropPoints === undefined ? 20 : Number(b.dropPoints);
        const stabilityThreshold = b.stabilityThreshold === undefined ? 0.1 : Number(b.stabilityThreshold);
        if (!(dropPoints > 0) || !(stabilityThreshold > 0)) throw new IndomainError('SRV_BAD_REQUEST', 'dropPoints and stabilityThreshold must be positive', { field: 'dropPoints' });
        return monitor.run({ model: b.model, dataset: b.dataset, dropPoints, stabilityThreshold });
      });
      app.get('/v1/admin/alerts', { schema: { summary: 'Alerts pushed by monitoring runs', security } }, async (req) => monitor.alerts((req.query as { model?: string }).model));
    }
    if (o.role === 'coordinator') {
      app.post('/v1/admin/jobs', { schema: { summary: 'Create a job from a JSON spec', security } }, async (req, reply) => {
        const spec = parseJobSpec(req.body);
        o.runtime.createJob(spec);
        return reply.status(201).send(jobView(store.job(spec.id)!));
      });
    }
  };
}

function jobView(r: { id: string; spec: string; status: string; stage: string; progress: string; result: string | null; error: string | null; createdAt: number; updatedAt: number }) {
  return {
    id: r.id,
    status: r.status,
    stage: r.stage,
    progress: JSON.parse(r.progress) as unknown,
    result: r.result ? (JSON.parse(r.result) as unknown) : null,
    error: r.error ? (JSON.parse(r.error) as unknown) : null,
    spec: JSON.parse(r.spec) as unknown,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}
