/**
 * Attack: reach a node's admin API without the admin token by writing the request target so that
 * the router still matches an admin route while a check on the raw URL text does not see
 * `/v1/admin/` (percent-encoding, absolute-form `http://x/v1/admin/…`), and probe the other
 * spellings (double encoding, case, dot segments, duplicate slashes) for the same.
 *
 * Every admin route of every node role is taken from the running app's route table (collected by an
 * onRoute hook as routes are registered), not from a list kept here. Requests are written raw over
 * `node:net` so that no client normalises the target. The defended nodes are real node processes
 * (server/cluster.ts); the undefended ones are the same node code (`createNode`) built in this
 * process with the old check on the raw URL (`authCheck: 'url-prefix'`), listening on 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteEntry } from '../../server/app.ts';
import { Cluster, type NodeConfig } from '../../server/cluster.ts';
import { createNode } from '../../server/main.ts';
import { MESSAGE_PATH, PEER_GRANTS_PATH, PEER_HEAD_PATH, PEER_MONITOR_PATH, PEER_SCORE_LR_PATH, PEER_SCORE_PATH } from '../../server/transport/egress.ts';
import { tempDir } from '../helpers/tmp.ts';

interface Answer {
  status: number;
  /** Header lines, lower-cased names. */
  head: string;
  body: string;
}

/** One request written byte for byte; the status and body of the answer. */
function raw(port: number, method: string, target: string, headers: Record<string, string> = {}, body = ''): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.on('data', (b: Buffer) => chunks.push(b));
    s.on('error', reject);
    s.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const end = text.indexOf('\r\n\r\n');
      resolve({ status, head: text.slice(0, end).toLowerCase(), body: text.slice(end + 4) });
    });
    const h = Object.entries({ host: '127.0.0.1', connection: 'close', 'content-length': String(Buffer.byteLength(body)), ...headers })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    s.write(`${method} ${target} HTTP/1.1\r\n${h}\r\n${body}`);
  });
}

/** Run `f` over `items`, `n` at a time. */
async function pool<T, R>(items: readonly T[], n: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!);
    }
  }));
  return out;
}

interface Variant {
  kind: string;
  target: string;
  /** Whether Fastify's router matches it to the route (asserted against both kinds of node). */
  reaches: boolean;
}

const hex = (c: string, upper: boolean) => {
  const h = c.charCodeAt(0).toString(16).padStart(2, '0');
  return `%${upper ? h.toUpperCase() : h.toLowerCase()}`;
};

/**
 * The spellings of one concrete path. `paramAt(i)` says whether character i lies in a path
 * parameter (there the router takes any decoded text, so a double encoding still matches).
 */
function variants(path: string, paramAt: (i: number) => boolean): Variant[] {
  const out: Variant[] = [{ kind: 'plain', target: path, reaches: true }];
  const at = (i: number, s: string) => path.slice(0, i) + s + path.slice(i + 1);
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === '/') {
      // (A target not starting with "/" or a scheme is refused by Node's HTTP parser before any routing.)
      if (i > 0) out.push({ kind: 'encoded slash', target: at(i, '%2F'), reaches: false });
      out.push({ kind: 'duplicate slash', target: at(i, '//'), reaches: false });
      continue;
    }
    const forms = new Set([hex(c, true), hex(c, false)]);
    for (const f of forms) out.push({ kind: 'percent-encoded', target: at(i, f), reaches: true });
    out.push({ kind: 'double-encoded', target: at(i, '%25' + hex(c, true).slice(1)), reaches: paramAt(i) });
    if (c.toUpperCase() !== c) out.push({ kind: 'case-changed', target: at(i, c.toUpperCase()), reaches: paramAt(i) });
  }
  // Every character encoded at once, and the whole path upper-cased.
  out.push({ kind: 'percent-encoded', target: [...path].map((c) => (c === '/' ? c : hex(c, false))).join(''), reaches: true });
  out.push({ kind: 'case-changed', target: path.toUpperCase(), reaches: false });
  // Dot segments after each slash but the first: /v1/x/../admin, /v1/./admin, encoded dots.
  const slashes = [...path].flatMap((c, i) => (c === '/' && i > 0 ? [i] : []));
  for (const i of slashes) {
    for (const d of ['/x/..', '/.', '/%2e', '/%2E', '/x/%2e%2e', '/x/%2E%2E', '/x/.%2e']) out.push({ kind: 'dot-segment', target: path.slice(0, i) + d + path.slice(i), reaches: false });
  }
  out.push({ kind: 'duplicate slash', target: '/' + path, reaches: false });
  // Absolute-form targets: the router matches the path part.
  const enc1 = at(4, hex(path[4]!, false));
  for (const base of ['http://x', 'https://x', 'HTTP://X:80', 'http://127.0.0.1:1']) {
    out.push({ kind: 'absolute-form', target: base + path, reaches: true });
    out.push({ kind: 'absolute-form', target: base + enc1, reaches: true });
  }
  out.push({ kind: 'query', target: `${path}?v1/admin/=1`, reaches: true });
  return out;
}

/** A concrete path for a route pattern (parameters become `x`) and which characters are parameter text. */
function concrete(url: string): { path: string; paramAt: (i: number) => boolean } {
  const segs = url.split('/');
  const isParam = segs.map((s) => s.startsWith(':'));
  const path = segs.map((s, k) => (isParam[k] ? 'x' : s)).join('/');
  const owner: number[] = [];
  segs.forEach((s, k) => {
    for (let j = 0; j < (isParam[k] ? 1 : s.length); j++) owner.push(k);
    owner.push(-1);
  });
  return { path, paramAt: (i) => owner[i] !== undefined && owner[i]! >= 0 && isParam[owner[i]!]! };
}

type Outcome = 'token refused' | 'no route' | 'handler ran';

/** What answered: the token check, the not-found handler (no route matched), or a route handler. */
function classify(a: Answer, method: string, target: string): Outcome {
  if (method === 'HEAD') {
    // No body: the not-found handler's answer is known by its length.
    const notFound = JSON.stringify({ code: 'SRV_NOT_FOUND', message: `no such resource: no route HEAD ${target.split('?')[0]!.slice(0, 200)}` });
    if (a.status === 401) return 'token refused';
    if (a.status === 404 && a.head.includes(`content-length: ${Buffer.byteLength(notFound)}\r\n`)) return 'no route';
    return 'handler ran';
  }
  if (a.status === 401 && a.body.includes('"SRV_ADMIN_TOKEN"')) return 'token refused';
  if (a.status === 404 && a.body.includes('no such resource: no route ')) return 'no route';
  return 'handler ran';
}

const ROLES: readonly NodeConfig['role'][] = ['coordinator', 'platform', 'bank'];
const nodes = (): NodeConfig[] => [
  { name: 'coordinator', role: 'coordinator', port: 0 },
  { name: 'platform', role: 'platform', port: 0 },
  { name: 'bank-1', role: 'bank', port: 0 },
];
const nameOf = (role: string) => (role === 'bank' ? 'bank-1' : role);
/** Routes outside the admin plugin: public ones and the signed peer routes (each with its own check). */
/**
 * Whether a target with an encoded slash still matches an admin route of that method: the
 * router splits on literal slashes only, so "/v1/admin/jobs/x%2Fplan" is GET /v1/admin/jobs/:id
 * with the id "x/plan" (a route the token guards), while "/v1/admin%2Fjobs" matches nothing.
 */
function matchesRoute(routes: readonly RouteEntry[], method: string, target: string): boolean {
  const segs = target.split('?')[0]!.split('/');
  return routes.some((r) => {
    if (r.method !== method) return false;
    const pat = r.url.split('/');
    return pat.length === segs.length && pat.every((p, k) => p.startsWith(':') ? segs[k]!.length > 0 : p === segs[k]);
  });
}

const OUTSIDE = new Set(['/v1/health', '/v1/identity', '/v1/audit/head', '/openapi.json', '/console', '/console/', '/console/*', '/v1/console/session', MESSAGE_PATH, PEER_SCORE_PATH, PEER_SCORE_LR_PATH, PEER_MONITOR_PATH, PEER_GRANTS_PATH, PEER_HEAD_PATH]);

describe('attack: admin routes spelled so that a check on the URL text misses them', () => {
  const defended = new Cluster(tempDir('indomain-attack-admin-'), nodes());
  const open = new Cluster(tempDir('indomain-attack-admin-off-'), nodes());
  const undefended = new Map<string, { port: number; routes: { all: RouteEntry[]; admin: RouteEntry[] }; close: () => Promise<void> }>();

  beforeAll(async () => {
    await defended.startAll();
    for (const role of ROLES) {
      const name = nameOf(role);
      const n = await createNode({ role, name, data: open.dataDir(name), peers: open.peersFile, adminToken: open.token, psiWorkers: 1, unsafe: { authCheck: 'url-prefix' } });
      const url = await n.app.listen({ port: 0, host: '127.0.0.1' });
      undefended.set(role, { port: Number(new URL(url).port), routes: n.app.routeTable, close: n.close });
    }
  }, 60_000);
  afterAll(async () => {
    await defended.stop();
    for (const n of undefended.values()) await n.close();
  });

  it('puts every route but the public and signed peer ones behind the admin token, on every role', () => {
    for (const role of ROLES) {
      const { all, admin } = undefended.get(role)!.routes;
      const adminKeys = new Set(admin.map((r) => `${r.method} ${r.url}`));
      for (const r of all) expect(OUTSIDE.has(r.url) || adminKeys.has(`${r.method} ${r.url}`), `${role}: ${r.method} ${r.url}`).toBe(true);
      for (const r of admin) expect(OUTSIDE.has(r.url), `${role}: ${r.url} is public`).toBe(false);
      expect(admin.some((r) => r.url === '/v1/admin/datasets')).toBe(true);
    }
    expect(undefended.get('bank')!.routes.admin.some((r) => r.url === '/v1/score' && r.method === 'POST')).toBe(true);
    expect(undefended.get('platform')!.routes.admin.some((r) => r.url === '/v1/admin/authorisations')).toBe(true);
    expect(undefended.get('coordinator')!.routes.admin.some((r) => r.url === '/v1/admin/jobs' && r.method === 'POST')).toBe(true);
  });

  it('answers 401 to every spelling that reaches an admin route and 404 to the others; the old check lets the encoded and absolute-form ones through', async () => {
    const wrong = randomBytes(24).toString('hex'); // the right length, the wrong token
    const on = { requests: 0, refused: 0, noRoute: 0, ok2xx: 0 };
    const off = { requests: 0, refused: 0, noRoute: 0, handlerRan: 0, ok2xx: 0 };
    const byKind = new Map<string, number>();
    for (const role of ROLES) {
      const u = undefended.get(role)!;
      const port = Number(new URL(defended.url(nameOf(role))).port);
      const cases = u.routes.admin.flatMap((r) => {
        const { path, paramAt } = concrete(r.url);
        return variants(path, paramAt)
          .map((v) => (v.kind === 'encoded slash' ? { ...v, reaches: matchesRoute(u.routes.admin, r.method, v.target) } : v))
          .flatMap((v) => [undefined, wrong].map((token) => ({ method: r.method, route: r.url, v, token })));
      });
      const headers = (t: string | undefined): Record<string, string> => (t ? { 'x-admin-token': t } : {});
      const onAnswers = await pool(cases, 16, (c) => raw(port, c.method, c.v.target, headers(c.token)));
      const offAnswers = await pool(cases, 16, (c) => raw(u.port, c.method, c.v.target, headers(c.token)));
      cases.forEach((c, i) => {
        const what = `${role} ${c.method} ${c.v.target} (${c.v.kind}, route ${c.route}, ${c.token ? 'wrong token' : 'no token'})`;
        const a = onAnswers[i]!;
        const b = offAnswers[i]!;
        on.requests++;
        off.requests++;
        // Defended: exactly what the router matches is refused for the token; the rest is not found.
        const oa = classify(a, c.method, c.v.target);
        expect(oa, `${what}: ${a.status} ${a.body}`).toBe(c.v.reaches ? 'token refused' : 'no route');
        expect(a.status < 200 || a.status > 299).toBe(true);
        if (oa === 'token refused') on.refused++;
        else on.noRoute++;
        if (a.status >= 200 && a.status < 300) on.ok2xx++;
        // Undefended: the same routing (what does not reach a route is 404 there too) …
        const ob = classify(b, c.method, c.v.target);
        expect(ob === 'no route', `${what} (old check): ${b.status} ${b.body}`).toBe(!c.v.reaches);
        // … and the old check refuses exactly the targets whose text starts with /v1/admin/ or /v1/score.
        const seenByOldCheck = c.v.target.startsWith('/v1/admin/') || c.v.target.startsWith('/v1/score');
        if (c.v.reaches) expect(ob, `${what} (old check)`).toBe(seenByOldCheck ? 'token refused' : 'handler ran');
        if (ob === 'token refused') off.refused++;
        else if (ob === 'no route') off.noRoute++;
        else {
          off.handlerRan++;
          byKind.set(c.v.kind, (byKind.get(c.v.kind) ?? 0) + 1);
        }
        if (b.status >= 200 && b.status < 300) off.ok2xx++;
      });
    }
    const reached = on.refused;
    console.log(
      `admin paths, defended (real node processes): ${on.requests} requests; ${on.refused} reach an admin route, all 401; ${on.noRoute} match no route, all 404; 2xx: ${on.ok2xx}\n` +
        `admin paths, old check on the raw URL: ${off.handlerRan} of ${reached} route-reaching requests ran the handler without a token (${off.ok2xx} answered 2xx); by kind ${JSON.stringify(Object.fromEntries(byKind))}`,
    );
    expect(on.ok2xx).toBe(0);
    expect(on.refused + on.noRoute).toBe(on.requests);
    // The attack works against the old check (the review's finding), and fails against the defence.
    expect(off.handlerRan, 'requests that bypassed the old check').toBeGreaterThan(100);
    expect(off.ok2xx, '2xx without a token under the old check').toBeGreaterThan(10);
  }, 300_000);

  it("reads the authorisation registry and creates a job without a token under the old check, not under the defence (the review's two requests)", async () => {
    const spec = JSON.stringify({ id: 'attack-job', pipeline: 'lr', coordinator: 'coordinator', guest: { node: 'bank-1', dataset: 'loans' }, host: { node: 'platform', dataset: 'credit' } });
    const json = { 'content-type': 'application/json' };
    const registry = (port: number) => raw(port, 'GET', '/v1/%61dmin/authorisations');
    const job = (port: number) => raw(port, 'POST', 'http://x/v1/admin/jobs', json, spec);
    const offRegistry = await registry(undefended.get('platform')!.port);
    const offJob = await job(undefended.get('coordinator')!.port);
    expect(offRegistry.status, offRegistry.body).toBe(200);
    expect(Array.isArray(JSON.parse(offRegistry.body))).toBe(true);
    expect(offJob.status, offJob.body).toBe(201);
    const onRegistry = await registry(Number(new URL(defended.url('platform')).port));
    const onJob = await job(Number(new URL(defended.url('coordinator')).port));
    console.log(`GET /v1/%61dmin/authorisations: ${offRegistry.status} old check, ${onRegistry.status} defended; POST http://x/v1/admin/jobs: ${offJob.status} old check, ${onJob.status} defended`);
    expect(onRegistry.status).toBe(401);
    expect(onJob.status).toBe(401);
    // With the token, the same spellings work: the defence checks the token, it does not break routing.
    const withToken = await raw(Number(new URL(defended.url('platform')).port), 'GET', '/v1/%61dmin/authorisations', { 'x-admin-token': defended.token });
    expect(withToken.status).toBe(200);
  });

  it('echoes nothing of the node in a 404: only the method and path the caller sent, without the query', async () => {
    const port = Number(new URL(defended.url('platform')).port);
    const a = await raw(port, 'GET', `/v1/nothing?token=${defended.token}`);
    expect(a.status).toBe(404);
    expect(JSON.parse(a.body)).toEqual({ code: 'SRV_NOT_FOUND', message: 'no such resource: no route GET /v1/nothing' });
  });
});
