/**
 * Who may use the console's API, by inject on real nodes (no socket): sign-in only with the admin
 * token in a POST body; the session cookie's flags; GET with the cookie, POST/DELETE only with the
 * session's CSRF token and from this node's origin; a token in the query string is never read; the
 * admin token in x-admin-token works exactly as before; the static console files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { CONSOLE_CSP } from '../../server/plugins/console.ts';
import { ConsoleSessions } from '../../server/plugins/console-auth.ts';
import { INJECT_TOKEN, injectNodes } from '../helpers/inject-nodes.ts';

describe('console sign-in and the admin hook', () => {
  let nodes: Awaited<ReturnType<typeof injectNodes>>;
  let platform: FastifyInstance;
  beforeAll(async () => {
    nodes = await injectNodes();
    platform = nodes.nodes.find((n) => n.role === 'platform')!.app;
  });
  afterAll(async () => nodes.close());

  const signIn = async (app: FastifyInstance, token = INJECT_TOKEN) => {
    const r = await app.inject({ method: 'POST', url: '/v1/console/session', payload: { token } });
    const set = String(r.headers['set-cookie'] ?? '');
    return { r, set, cookie: set.split(';')[0]!, csrf: r.statusCode === 200 ? (r.json() as { csrf: string }).csrf : '' };
  };

  it('signs in with the token in the body and sets an HttpOnly, SameSite=Strict, path-scoped cookie', async () => {
    const { r, set, csrf } = await signIn(platform);
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ node: 'platform', role: 'platform' });
    expect(csrf.length).toBeGreaterThanOrEqual(40);
    expect(set).toMatch(/^indomain_console_platform=[A-Za-z0-9_-]{40,};/);
    expect(set).toContain('HttpOnly');
    expect(set).toContain('SameSite=Strict');
    expect(set).toContain('Path=/v1/');
    expect(set).toMatch(/Max-Age=\d+/);
    expect(set).not.toContain(INJECT_TOKEN);
  });

  it('refuses a wrong token, and a sign-in from another origin', async () => {
    const bad = await signIn(platform, 'x'.repeat(INJECT_TOKEN.length));
    expect(bad.r.statusCode).toBe(401);
    expect(bad.r.json()).toMatchObject({ code: 'SRV_ADMIN_TOKEN' });
    expect(bad.set).toBe('');
    const foreign = await platform.inject({ method: 'POST', url: '/v1/console/session', headers: { origin: 'http://evil.example' }, payload: { token: INJECT_TOKEN } });
    expect(foreign.statusCode).toBe(403);
    expect(foreign.json()).toMatchObject({ code: 'SRV_CSRF' });
  });

  it('lets the cookie read (GET) and refuses a change (POST) without the CSRF token, with a wrong one, or from another origin', async () => {
    const { cookie, csrf } = await signIn(platform);
    const get = await platform.inject({ method: 'GET', url: '/v1/admin/datasets', headers: { cookie } });
    expect(get.statusCode).toBe(200);
    const grant = { uscc: '91350100M000100Y43', bank: 'bank-1', purpose: 'modelling', valid_from: '2024-01-01', valid_to: '2030-01-01', source_ref: 'T' };
    const post = (headers: Record<string, string>) => platform.inject({ method: 'POST', url: '/v1/admin/authorisations', headers: { cookie, ...headers }, payload: grant });
    for (const headers of [{}, { 'x-csrf-token': 'wrong' }, { 'x-csrf-token': csrf, origin: 'http://evil.example' }, { 'x-csrf-token': csrf, 'sec-fetch-site': 'cross-site' }] as Record<string, string>[]) {
      const r = await post(headers);
      expect(r.statusCode, JSON.stringify(headers)).toBe(403);
      expect(r.json()).toMatchObject({ code: 'SRV_CSRF' });
    }
    expect((await platform.inject({ method: 'GET', url: '/v1/admin/authorisations', headers: { cookie } })).json()).toEqual([]);
    const ok = await post({ 'x-csrf-token': csrf, origin: 'http://localhost:80', 'sec-fetch-site': 'same-origin' });
    expect(ok.statusCode).toBe(201);
    expect((await platform.inject({ method: 'GET', url: '/v1/admin/authorisations', headers: { cookie } })).json()).toHaveLength(1);
  });

  it('never reads a token from the query string, and refuses a request with neither token nor session', async () => {
    for (const q of [`token=${INJECT_TOKEN}`, `x-admin-token=${INJECT_TOKEN}`, `admin_token=${INJECT_TOKEN}`]) {
      const r = await platform.inject({ method: 'GET', url: `/v1/admin/datasets?${q}` });
      expect(r.statusCode).toBe(401);
      expect(r.json()).toMatchObject({ code: 'SRV_ADMIN_TOKEN' });
    }
    expect((await platform.inject({ method: 'GET', url: '/v1/admin/datasets', headers: { cookie: 'indomain_console_platform=forged' } })).statusCode).toBe(401);
    expect((await platform.inject({ method: 'POST', url: '/v1/admin/authorisations/revoke', headers: { cookie: 'indomain_console_platform=forged', 'x-csrf-token': 'forged' }, payload: { uscc: 'a', bank: 'b', purpose: 'modelling' } })).statusCode).toBe(401);
  });

  it('keeps the admin token working exactly as before: a wrong header is refused even with a live session', async () => {
    expect((await platform.inject({ method: 'GET', url: '/v1/admin/datasets', headers: { 'x-admin-token': INJECT_TOKEN } })).statusCode).toBe(200);
    const { cookie, csrf } = await signIn(platform);
    const r = await platform.inject({ method: 'GET', url: '/v1/admin/datasets', headers: { cookie, 'x-csrf-token': csrf, 'x-admin-token': 'wrong' } });
    expect(r.statusCode).toBe(401);
  });

  it('refuses a large sign-in body before parsing it (the route is public)', async () => {
    const big = JSON.stringify({ token: 'x'.repeat(100_000) });
    const r = await platform.inject({ method: 'POST', url: '/v1/console/session', headers: { 'content-type': 'application/json' }, payload: big });
    expect(r.statusCode).toBe(413);
    expect(r.json()).toMatchObject({ code: 'SRV_BODY_TOO_LARGE' });
  });

  it('signs out: the session is gone, and sign-out itself needs the CSRF token', async () => {
    const { cookie, csrf } = await signIn(platform);
    expect((await platform.inject({ method: 'DELETE', url: '/v1/console/session', headers: { cookie } })).statusCode).toBe(403);
    const out = await platform.inject({ method: 'DELETE', url: '/v1/console/session', headers: { cookie, 'x-csrf-token': csrf } });
    expect(out.statusCode).toBe(200);
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
    expect((await platform.inject({ method: 'GET', url: '/v1/admin/datasets', headers: { cookie } })).statusCode).toBe(401);
    expect((await platform.inject({ method: 'GET', url: '/v1/console/session', headers: { cookie } })).json()).toEqual({ signedIn: false, node: 'platform', role: 'platform' });
  });

  it("sessions of one node are not sessions of another, even under the other's cookie name (nodes share a host in the lab)", async () => {
    const bank = nodes.nodes.find((n) => n.role === 'bank')!.app;
    const { cookie } = await signIn(platform);
    expect((await bank.inject({ method: 'GET', url: '/v1/admin/datasets', headers: { cookie } })).statusCode).toBe(401);
    const renamed = cookie.replace('indomain_console_platform=', 'indomain_console_bank-1=');
    expect((await bank.inject({ method: 'GET', url: '/v1/admin/datasets', headers: { cookie: renamed } })).statusCode).toBe(401);
  });

  it('expires sessions and bounds how many it keeps', () => {
    const s = new ConsoleSessions('n', 1000, 3);
    const a = s.create(0);
    expect(s.get(a.id, 999)).toBeDefined();
    expect(s.get(a.id, 1000)).toBeUndefined();
    const made = [s.create(10), s.create(11), s.create(12), s.create(13)];
    expect(s.get(made[0]!.id, 14)).toBeUndefined();
    expect(s.get(made[3]!.id, 14)).toBeDefined();
  });

  it('serves the console, ECharts and the font from this node, with a content security policy', async () => {
    const index = await platform.inject({ method: 'GET', url: '/console/' });
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toContain('text/html');
    expect(index.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(index.body).toContain('<script type="module" src="/console/js/app.js">');
    const echarts = await platform.inject({ method: 'GET', url: '/console/vendor/echarts.mjs' });
    expect(echarts.statusCode).toBe(200);
    expect(echarts.body.length).toBeGreaterThan(500_000);
    const css = await platform.inject({ method: 'GET', url: '/console/vendor/fonts/noto-sans-sc-400.css' });
    const font = /url\(\.\/files\/([^)]+\.woff2)\)/.exec(css.body)![1]!;
    const woff = await platform.inject({ method: 'GET', url: `/console/vendor/fonts/files/${font}` });
    expect(woff.statusCode).toBe(200);
    expect(woff.headers['content-type']).toBe('font/woff2');
    for (const path of ['/console/../package.json', '/console/%2e%2e/package.json', '/console/vendor/../../server/app.ts', '/console/js/nothing.js']) {
      expect((await platform.inject({ method: 'GET', url: path })).statusCode, path).toBe(404);
    }
  });
});
