/**
 * The Fastify service of a node (role `platform`, `bank` or `coordinator`), as a tree of plugins:
 *   - the root: coded errors (plugins/errors.ts; schema refusals included), the node context
 *     decorated for every child (plugins/context.ts), the route table;
 *   - openapi: @fastify/swagger from the routes' TypeBox schemas, served at GET /openapi.json;
 *   - public: GET /v1/health, GET /v1/identity;
 *   - peer (plugins/peer.ts): signed node-to-node messages and exchanges, the signature checked by
 *     that plugin's own unconditional hook;
 *   - admin (plugins/admin.ts): datasets, jobs, authorisations, scoring and monitoring, behind the
 *     admin token checked by that plugin's own unconditional hook.
 * Every route declares its params, query, body and response with TypeBox, which also types its
 * handler. Data files named in admin requests are read only under the node's data root
 * (server/data-root.ts). TLS: pass `https: { key, cert }` (PEM); peers' URLs then use https.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AuthorisationRegistry } from './authz.ts';
import type { DataRoot } from './data-root.ts';
import { DEFAULT_LIMITS, type NodeLimits } from './limits.ts';
import type { NodeRuntime } from './runtime.ts';
import type { Identity } from './signing.ts';
import { SignedClient } from './transport/exchange.ts';
import { HttpClient } from './transport/http-client.ts';
import type { NodeRole, Peer } from './transport/peer.ts';
import { adminPlugin } from './plugins/admin.ts';
import { ConsoleSessions } from './plugins/console-auth.ts';
import { consolePlugin } from './plugins/console.ts';
import type { NodeContext, RouteEntry, UnsafeAppOptions } from './plugins/context.ts';
import { clientError, codedErrors, frameworkError, requestDeadline, schemaError } from './plugins/errors.ts';
import { peerPlugin } from './plugins/peer.ts';
import { errors } from './plugins/schemas.ts';

export type { RouteEntry };

export interface AppOptions {
  readonly runtime: NodeRuntime;
  readonly identity: Identity;
  readonly role: NodeRole;
  readonly peers: ReadonlyMap<string, Peer>;
  readonly adminToken: string;
  /** The directory admin requests may read data files from. */
  readonly dataRoot: DataRoot;
  /** The node's limits (server/limits.ts). */
  readonly limits?: NodeLimits;
  /** The platform's authorisation registry (platform nodes only). */
  readonly authz?: AuthorisationRegistry;
  /** The node's HTTP client (the runtime's, so that one client serves the node). */
  readonly http?: HttpClient;
  /** TEST ONLY switches for tests/attacks. */
  readonly unsafe?: UnsafeAppOptions;
  /** Largest accepted message body, bytes (default 64 MiB: a round of the encrypted basis is ~15 MB). */
  readonly bodyLimit?: number;
  readonly https?: { key: string | Buffer; cert: string | Buffer };
  readonly logger?: boolean;
  /** Interval between chain-head exchanges, ms (server/audit-heads.ts). */
  readonly headIntervalMs?: number;
}

export async function buildApp(o: AppOptions): Promise<FastifyInstance> {
  const bodyLimit = o.bodyLimit ?? 64 * 1024 * 1024;
  const limits = o.limits ?? DEFAULT_LIMITS;
  // Timeouts on every connection: a request (headers and body) must arrive whole within
  // requestTimeoutMs (checked every quarter of it), a connection idle between requests is closed
  // after idleTimeoutMs. A handler may take longer than either (a batch scoring of a book).
  const checking = { connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(limits.requestTimeoutMs / 4))) };
  const app = Fastify({
    logger: o.logger ?? false,
    bodyLimit,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.idleTimeoutMs,
    http: checking,
    clientErrorHandler: clientError,
    schemaErrorFormatter: schemaError,
    frameworkErrors: frameworkError,
    // Types as declared: a number is not a string here, nor a string a number; an undeclared field
    // is refused, not dropped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    ...(o.https ? { https: { ...o.https, ...checking } } : {}),
  } as Record<string, unknown>) as unknown as FastifyInstance;
  codedErrors(app, bodyLimit);
  requestDeadline(app, limits.requestTimeoutMs);

  const http = o.http ?? new HttpClient();
  const context: NodeContext = {
    runtime: o.runtime,
    store: o.runtime.store,
    identity: o.identity,
    role: o.role,
    peers: o.peers,
    http,
    client: new SignedClient({ store: o.runtime.store, identity: o.identity, gate: o.runtime.gate, http, ...(o.unsafe?.acceptUnsignedReplies ? { acceptUnsignedReplies: true } : {}) }),
    adminToken: o.adminToken,
    sessions: new ConsoleSessions(o.identity.name),
    dataRoot: o.dataRoot,
    limits,
    authz: o.authz,
    unsafe: o.unsafe ?? {},
    ...(o.headIntervalMs !== undefined ? { headIntervalMs: o.headIntervalMs } : {}),
  };
  app.decorate('node', context);
  const routeTable: FastifyInstance['routeTable'] = { all: [], admin: [], console: [] };
  app.decorate('routeTable', routeTable);
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routeTable.all.push({ method, url: r.url! });
  });
  app.addHook('onClose', async () => http.close());

  await app.register(swagger, {
    openapi: {
      info: { title: `indomain ${o.role} node "${o.identity.name}"`, version: '0.1.0', description: 'Signed node-to-node messages and the administrative API of an indomain node.' },
      components: { securitySchemes: { adminToken: { type: 'apiKey', in: 'header', name: 'x-admin-token' } } },
    },
  });
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  typed.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  const Who = { name: Type.String(), role: Type.String() };
  typed.get('/v1/health', { schema: { summary: 'Liveness and identity', response: { 200: Type.Object({ ...Who, ok: Type.Boolean() }), ...errors } } }, async () => ({ name: o.identity.name, role: o.role, ok: true }));
  typed.get('/v1/identity', { schema: { summary: "This node's Ed25519 public key (base64)", response: { 200: Type.Object({ ...Who, publicKey: Type.String() }), ...errors } } }, async () => ({
    name: o.identity.name,
    role: o.role,
    publicKey: Buffer.from(o.identity.publicKey).toString('base64'),
  }));
  // The chain's signed head, for the regulator's anchor (`indomain audit anchor --url`): public, as
  // the identity is; it says how many records the chain holds, nothing of what they say.
  const Head = Type.Object({ node: Type.String(), seq: Type.Integer(), at: Type.Integer(), hash: Type.String(), signature: Type.String() });
  typed.get('/v1/audit/head', { schema: { summary: "This node's audit chain head: its last record's seq, time, hash and the node's signature", response: { 200: Head, ...errors } } }, async () =>
    o.runtime.store.audit.committedHead(o.identity.name) ?? { node: o.identity.name, seq: 0, at: 0, hash: '', signature: '' },
  );

  await app.register(peerPlugin);
  await app.register(adminPlugin);
  await app.register(consolePlugin, { name: o.identity.name, role: o.role, adminToken: o.adminToken, sessions: context.sessions });
  return app;
}
