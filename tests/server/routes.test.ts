/**
 * The routes of every node role, through `app.inject()`: the OpenAPI document describes every
 * body; every admin route refuses every spelling of its path without the token (or with a wrong
 * one) and every peer route without a valid signature; schema refusals are coded and name the
 * field; each role serves its own routes only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../../engine/errors.ts';
import { encodeMessage } from '../../protocols/codec.ts';
import { signRequest } from '../../server/signing.ts';
import { MESSAGE_PATH } from '../../server/transport/egress.ts';
import { INJECT_TOKEN, injectNodes, type InjectNode } from '../helpers/inject-nodes.ts';
import type { Identity } from '../../server/signing.ts';

const PUBLIC = new Set(['/v1/health', '/v1/identity', '/v1/audit/head', '/openapi.json']);

/** A concrete path for a route pattern (`:id` → `j-1`), and spellings of it the router may still match. */
function spellings(pattern: string): { kind: string; target: string }[] {
  const path = pattern.replace(/:[A-Za-z]+/g, 'j-1');
  const segs = path.split('/').filter(Boolean);
  const enc = (s: string) => `%${s.charCodeAt(0).toString(16)}${s.slice(1)}`;
  const out = [
    { kind: 'plain', target: path },
    { kind: 'absolute-form', target: `http://127.0.0.1${path}` },
    { kind: 'query', target: `${path}?x=1` },
    { kind: 'trailing slash', target: `${path}/` },
    { kind: 'double slash', target: path.replace('/v1/', '//v1/') },
    { kind: 'dot segment', target: path.replace('/v1/', '/v1/./') },
    { kind: 'dot-dot segment', target: path.replace('/v1/', '/v1/x/../') },
    { kind: 'upper case', target: path.toUpperCase() },
    { kind: 'double encoding', target: path.replace('/v1/', '/v1/%25') },
  ];
  segs.forEach((_, i) => {
    const t = (f: (x: string) => string) => '/' + segs.map((x, j) => (j === i ? f(x) : x)).join('/');
    out.push({ kind: `encoded segment ${i}`, target: t(enc) });
    out.push({ kind: `encoded segment ${i}, upper hex`, target: t((x) => `%${x.charCodeAt(0).toString(16).toUpperCase()}${x.slice(1)}`) });
    out.push({ kind: `fully encoded segment ${i}`, target: t((x) => [...x].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('')) });
  });
  return out;
}

describe('routes, by inject', () => {
  let nodes: InjectNode[];
  let identities: Map<string, Identity>;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ nodes, identities, close } = await injectNodes());
  });
  afterAll(async () => close());

  const codeOf = (body: string) => (JSON.parse(body) as { code?: string }).code;

  it('describes every route in OpenAPI: a request schema where it takes input, a response schema always', async () => {
    for (const n of nodes) {
      const r = await n.app.inject({ method: 'GET', url: '/openapi.json' });
      expect(r.statusCode).toBe(200);
      const doc = r.json<{ paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: unknown }> }; parameters?: unknown[]; responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>> }>();
      const documented = new Set<string>();
      for (const [path, ops] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(ops)) {
          documented.add(`${method.toUpperCase()} ${path}`);
          const ok = Object.entries(op.responses).find(([s]) => s.startsWith('2'));
          expect(ok?.[1].content && Object.values(ok[1].content)[0]!.schema, `${n.role} ${method} ${path}: response schema`).toBeTruthy();
          expect(op.responses['4XX'] ?? op.responses['4xx'], `${n.role} ${method} ${path}: error schema`).toBeTruthy();
          if (method === 'post') {
            const body = op.requestBody ? Object.values(op.requestBody.content)[0]!.schema : undefined;
            // A refusal takes no body, or an optional one; every other POST declares it.
            if (!/\/(cancel|approve)$/.test(path)) expect(body, `${n.role} ${method} ${path}: request schema`).toBeTruthy();
          }
          if (path.includes('{id}')) expect(op.parameters?.length, `${n.role} ${path}: params`).toBeGreaterThan(0);
        }
      }
      // Every route of the app but the document itself is in it (HEAD routes mirror GET).
      for (const r of n.app.routeTable.all) {
        if (r.method === 'HEAD' || r.url === '/openapi.json') continue;
        expect(documented.has(`${r.method} ${r.url.replace(/:([A-Za-z]+)/g, '{$1}').replace(/\*$/, '{*}')}`), `${n.role} ${r.method} ${r.url} documented`).toBe(true);
      }
    }
  });

  it('refuses every spelling of every admin route without the token or with a wrong one', async () => {
    let refused = 0;
    let noRoute = 0;
    for (const n of nodes) {
      expect(n.app.routeTable.admin.length).toBeGreaterThan(3);
      for (const route of n.app.routeTable.admin) {
        for (const s of spellings(route.url)) {
          for (const headers of [{}, { 'x-admin-token': 'x'.repeat(INJECT_TOKEN.length) }, { 'x-admin-token': '' }]) {
            const r = await n.app.inject({ method: route.method as 'GET', url: s.target, headers, ...(route.method === 'POST' ? { payload: {} } : {}) });
            const what = `${n.role} ${route.method} ${s.target} (${s.kind})`;
            expect(r.statusCode < 200 || r.statusCode > 299, what).toBe(true);
            if (route.method === 'HEAD') {
              expect([401, 404], what).toContain(r.statusCode);
              continue;
            }
            const code = codeOf(r.body);
            expect(['SRV_ADMIN_TOKEN', 'SRV_NOT_FOUND'], `${what}: ${r.body}`).toContain(code);
            if (s.kind === 'plain' || s.kind.startsWith('encoded segment') || s.kind === 'absolute-form' || s.kind === 'query') expect(code, what).toBe('SRV_ADMIN_TOKEN');
            if (code === 'SRV_ADMIN_TOKEN') refused++;
            else noRoute++;
          }
        }
      }
    }
    console.log(`admin routes: ${refused} spellings refused for the token, ${noRoute} matched no route, none reached a handler`);
  });

  it('refuses every spelling of every peer route without a valid signature', async () => {
    const bank = identities.get('bank-1')!;
    const stranger: Identity = { ...identities.get('coordinator')!, name: 'bank-1' };
    const body = Buffer.from(encodeMessage({ job: 'j', protocol: 'job', type: 'StageStart', round: 0, from: 'coordinator', to: 'guest', body: { stage: 'psi' } }));
    let n = 0;
    for (const node of nodes) {
      // The console's files and sign-in are public by design (tests/console/access.test.ts).
      const isConsole = (r: { url: string; method: string }) => node.app.routeTable.console.some((c) => c.url === r.url && c.method === r.method);
      const peerRoutes = node.app.routeTable.all.filter((r) => !PUBLIC.has(r.url) && !isConsole(r) && !node.app.routeTable.admin.some((a) => a.url === r.url && a.method === r.method));
      expect(peerRoutes.some((r) => r.url === MESSAGE_PATH)).toBe(true);
      for (const route of peerRoutes) {
        expect(route.method).toBe('POST');
        for (const s of spellings(route.url)) {
          const variants: [string, Record<string, string>][] = [
            ['unsigned', {}],
            ['signed by a key not pinned for that name', signRequest(stranger, 'POST', route.url, body)],
            ['signed over another body', signRequest(bank, 'POST', route.url, Buffer.from('x'))],
            ['signed for another path', signRequest(bank, 'POST', '/v1/other', body)],
          ];
          for (const [kind, h] of variants) {
            const r = await node.app.inject({ method: 'POST', url: s.target, headers: { 'content-type': 'application/msgpack', ...h }, payload: body });
            const code = codeOf(r.body);
            const what = `${node.role} ${s.target} (${s.kind}, ${kind}): ${r.body}`;
            expect(['SRV_UNSIGNED', 'SRV_BAD_SIGNATURE', 'SRV_NOT_FOUND'], what).toContain(code);
            if (s.kind === 'plain') expect(code, what).toBe(kind === 'unsigned' ? 'SRV_UNSIGNED' : 'SRV_BAD_SIGNATURE');
            n++;
          }
        }
      }
    }
    console.log(`peer routes: ${n} requests without a valid signature, all refused`);
  });

  it('refuses bad bodies by their schema, coded, naming the field and not the value', async () => {
    const bank = nodes.find((x) => x.role === 'bank')!.app;
    const coordinator = nodes.find((x) => x.role === 'coordinator')!.app;
    const platform = nodes.find((x) => x.role === 'platform')!.app;
    const admin = { 'x-admin-token': INJECT_TOKEN };
    const cases: [typeof bank, string, unknown, string][] = [
      [bank, '/v1/admin/datasets', { path: 'a.csv', idColumn: 'id' }, 'body/name'],
      [bank, '/v1/admin/datasets', { name: 'bad name!', path: 'a.csv', idColumn: 'id' }, 'body/name'],
      [bank, '/v1/admin/datasets', { name: 'n', path: 7, idColumn: 'id' }, 'body/path'],
      [bank, '/v1/admin/datasets', { name: 'n', path: 'a.csv', idColumn: 'id', extra: 'SENTINEL-123' }, 'body/extra'],
      [bank, '/v1/score', { model: 'm', id: 'SENTINEL-123', purpose: 'marketing' }, 'body/purpose'],
      [bank, '/v1/score', { model: 'm', id: 'e', features: { x: [1] } }, 'body/features/x'],
      [coordinator, '/v1/admin/jobs', { id: 'j', pipeline: 'deep', coordinator: 'c', guest: { node: 'b', dataset: 'd' }, host: { node: 'p', dataset: 'd' } }, 'body/pipeline'],
      [coordinator, '/v1/admin/jobs', { id: 'j', pipeline: 'lr', coordinator: 'c', guest: { node: 'b' }, host: { node: 'p', dataset: 'd' } }, 'body/guest/dataset'],
      [platform, '/v1/admin/authorisations/revoke', { uscc: 'SENTINEL-123', bank: 'bank-1', purpose: 'x' }, 'body/purpose'],
    ];
    for (const [app, url, payload, field] of cases) {
      const r = await app.inject({ method: 'POST', url, headers: admin, payload: payload as Record<string, unknown> });
      expect(r.statusCode, `${url} ${JSON.stringify(payload)}`).toBe(400);
      const b = r.json<{ code: string; message: string }>();
      expect(Object.keys(b).sort()).toEqual(['code', 'message']);
      expect(b.code).toBe('SRV_BAD_REQUEST');
      expect(b.message, JSON.stringify(payload)).toContain(`field "${field}`);
      expect(b.message).not.toContain('SENTINEL');
    }
    // A query parameter and a path parameter of the wrong shape.
    const q = await bank.inject({ method: 'GET', url: '/v1/admin/alerts?model=a&model=b', headers: admin });
    expect(q.statusCode).toBe(400);
    expect(ERRORS).toHaveProperty(codeOf(q.body)!);
    // Not JSON, and the wrong media type: coded too.
    const notJson = await bank.inject({ method: 'POST', url: '/v1/score', headers: { ...admin, 'content-type': 'application/json' }, payload: '{"model":' });
    expect([notJson.statusCode, codeOf(notJson.body)]).toEqual([400, 'SRV_BAD_REQUEST']);
    const media = await bank.inject({ method: 'POST', url: '/v1/score', headers: { ...admin, 'content-type': 'text/plain' }, payload: 'x' });
    expect([media.statusCode < 500, codeOf(media.body)]).toEqual([true, 'SRV_BAD_REQUEST']);
  });

  it("serves each role's own routes: the platform answers the banks' exchanges, the bank scores, the coordinator creates jobs", () => {
    const table = (role: string) => nodes.find((x) => x.role === role)!.app.routeTable.all.map((r) => `${r.method} ${r.url}`);
    expect(table('platform')).toEqual(expect.arrayContaining(['POST /v1/peer/score', 'POST /v1/peer/score-lr', 'POST /v1/peer/monitor', 'POST /v1/peer/grants', 'POST /v1/admin/authorisations', 'POST /v1/admin/jobs/:id/approve']));
    expect(table('platform')).not.toContain('POST /v1/score');
    expect(table('platform')).not.toContain('POST /v1/admin/jobs');
    expect(table('bank')).toEqual(expect.arrayContaining(['POST /v1/score', 'POST /v1/admin/score-batch', 'POST /v1/admin/monitor', 'GET /v1/admin/alerts']));
    // Every node exchanges chain heads with its peers and serves its own head; nothing else of the peer routes.
    for (const role of ['platform', 'bank', 'coordinator']) expect(table(role)).toEqual(expect.arrayContaining(['POST /v1/peer/head', 'GET /v1/audit/head']));
    const other = (r: string) => r !== 'POST /v1/peer/head';
    expect(table('bank').filter((r) => other(r) && (r.includes('/v1/peer/') || r.includes('authorisations') || r.endsWith('/approve')))).toEqual([]);
    expect(table('coordinator')).toContain('POST /v1/admin/jobs');
    expect(table('coordinator').filter((r) => other(r) && (r.includes('/v1/peer/') || r.includes('score') || r.includes('authorisations')))).toEqual([]);
  });
});
