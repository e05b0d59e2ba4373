/**
 * Attack: reach a node's admin API through the console's sign-in without the admin token, or
 * change state with a console session without its CSRF token (cross-site or same-site forgery).
 *
 * A real platform node (createNode, listening on 127.0.0.1 at a port the OS picks; a second one
 * over TLS) and raw requests written byte for byte over node:net, so no client normalises a path
 * or adds a header. Tried and counted:
 *   - forged and guessed session cookies, a token in the query string, the path, a cookie, an
 *     Authorization header; the admin routes' own paths percent-encoded, with doubled slashes, dot
 *     segments, upper case, absolute-form; HEAD and OPTIONS; method-override headers;
 *   - a session after sign-out, after expiry (the node's clock moved past 8 h);
 *   - every state change with the session cookie but without the right CSRF token or from another
 *     origin: no header, forged, another session's token, Origin null / another host / another
 *     port of the same host / Sec-Fetch-Site same-site, text/plain and form bodies (simple requests);
 *   - the static console: ../ encoded every way, backslashes, NUL bytes, source and data files,
 *     directories; and the headers of every console file and of the cookie (Secure over TLS).
 * Each figure is the number of attempts the node answered 2xx (must be 0), and whether the
 * platform's authorisation registry changed (must stay empty).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createNode } from '../../server/main.ts';
import { consoleFiles } from '../../server/plugins/console.ts';
import { NodeStore } from '../../server/store/node-store.ts';
import { freePorts } from '../helpers/ports.ts';
import { tempDir } from '../helpers/tmp.ts';

const TOKEN = 'console-attack-token-'.padEnd(48, '7');

interface Answer {
  status: number;
  head: string;
  body: string;
}

function raw(port: number, method: string, target: string, headers: Record<string, string> = {}, body = ''): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.on('data', (b: Buffer) => chunks.push(b));
    s.on('error', reject);
    s.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), head: text.slice(0, end), body: text.slice(end + 4) });
    });
    const h = Object.entries({ host: `127.0.0.1:${port}`, connection: 'close', 'content-length': String(Buffer.byteLength(body)), ...headers })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    s.write(`${method} ${target} HTTP/1.1\r\n${h}\r\n${body}`);
  });
}

const ok = (a: Answer) => a.status >= 200 && a.status < 300;

interface Platform {
  port: number;
  origin: string;
  close: () => Promise<void>;
}

async function platform(https?: { key: Buffer; cert: Buffer }): Promise<Platform> {
  const dir = tempDir('indomain-console-attack-');
  const [port] = await freePorts(1);
  const s = new NodeStore(join(dir, 'platform'));
  const scheme = https ? 'https' : 'http';
  writeFileSync(join(dir, 'peers.json'), JSON.stringify({ nodes: [{ name: 'platform', role: 'platform', url: `${scheme}://127.0.0.1:${port}`, publicKey: Buffer.from(s.identity('platform').publicKey).toString('base64') }] }));
  s.close();
  const made = await createNode({ role: 'platform', name: 'platform', data: join(dir, 'platform'), peers: join(dir, 'peers.json'), adminToken: TOKEN, dataRoot: dir, psiWorkers: 1, ...(https ? { https } : {}) });
  await made.app.listen({ port: port!, host: '127.0.0.1' });
  return { port: port!, origin: `${scheme}://127.0.0.1:${port}`, close: made.close };
}

describe('console sessions and CSRF on a real node', () => {
  let p: Platform;
  beforeAll(async () => {
    p = await platform();
  }, 60_000);
  afterAll(async () => p?.close());

  const signIn = async () => {
    const a = await raw(p.port, 'POST', '/v1/console/session', { 'content-type': 'application/json', origin: p.origin }, JSON.stringify({ token: TOKEN }));
    expect(a.status).toBe(200);
    const cookie = /set-cookie: ([^;\r\n]+)/i.exec(a.head)![1]!;
    return { cookie, csrf: (JSON.parse(a.body) as { csrf: string }).csrf };
  };
  const registry = async () => JSON.parse((await raw(p.port, 'GET', '/v1/admin/authorisations', { 'x-admin-token': TOKEN })).body) as unknown[];
  const grant = JSON.stringify({ uscc: '91350100M000100Y43', bank: 'bank-1', purpose: 'modelling', valid_from: '2024-01-01', valid_to: '2030-01-01', source_ref: 'T' });

  it('no way in without the token or a live session: guessed cookies, tokens outside the header, path spellings, HEAD/OPTIONS, overrides', async () => {
    const attempts: { what: string; a: Answer }[] = [];
    const get = async (what: string, target: string, headers: Record<string, string> = {}, method = 'GET') => attempts.push({ what, a: await raw(p.port, method, target, headers) });
    // 1. guessed and forged session ids (the id is 32 random bytes, base64url)
    const { cookie } = await signIn();
    const live = cookie.split('=')[1]!;
    const guesses = [
      ...Array.from({ length: 300 }, (_, i) => Buffer.from(String(i).padStart(32, '0')).toString('base64url')),
      live.slice(0, -1),
      live.slice(0, -1) + (live.endsWith('A') ? 'B' : 'A'),
      live.toUpperCase(),
      `"${live}"`,
      encodeURIComponent(TOKEN),
      TOKEN,
      '',
      'undefined',
      '__proto__',
      'constructor',
    ];
    for (const g of guesses) await get(`cookie ${g.slice(0, 12)}`, '/v1/admin/datasets', { cookie: `indomain_console_platform=${g}` });
    // 2. the admin token anywhere but x-admin-token
    for (const q of ['token', 'x-admin-token', 'admin_token', 'adminToken', 'csrf']) await get(`query ${q}`, `/v1/admin/datasets?${q}=${TOKEN}`);
    await get('path', `/v1/admin/datasets/${TOKEN}`);
    await get('cookie x-admin-token', '/v1/admin/datasets', { cookie: `x-admin-token=${TOKEN}; admin_token=${TOKEN}` });
    await get('bearer', '/v1/admin/datasets', { authorization: `Bearer ${TOKEN}` });
    await get('basic', '/v1/admin/datasets', { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` });
    await get('x-admin-token empty + live cookie', '/v1/admin/datasets', { 'x-admin-token': '', cookie });
    // 3. path spellings of admin and console API routes, with no credential
    const targets = ['/v1/admin/datasets', '/v1/admin/authorisations', '/v1/admin/authorisations/summary', '/v1/admin/node', '/v1/admin/jobs'];
    for (const t of targets) {
      for (const v of [
        t.replace('/admin/', '/%61dmin/'),
        t.replace('/v1/', '/v%31/'),
        t.replace('/admin/', '/admin%2F').replace(/^/, ''),
        t.replace('/v1/admin/', '/v1%2Fadmin/'),
        `/${t}`,
        t.replace('/v1/', '/v1//'),
        t.replace('/admin/', '/./admin/'),
        t.replace('/admin/', '/x/../admin/'),
        t.replace('/admin/', '/%2e%2e/v1/admin/'),
        t.toUpperCase(),
        `http://127.0.0.1:${p.port}${t}`,
        `${t}%00`,
        `${t};jsessionid=x`,
        `${t}/`,
        `${t}?`,
        `${t}#x`,
      ]) {
        await get(`spelling ${v}`, v);
        await get(`HEAD ${v}`, v, {}, 'HEAD');
      }
      await get(`OPTIONS ${t}`, t, { origin: 'http://evil.example', 'access-control-request-method': 'POST' }, 'OPTIONS');
      await get(`override ${t}`, t, { 'x-http-method-override': 'GET', 'x-method-override': 'GET', 'x-http-method': 'GET' }, 'POST');
    }
    // 4. a signed-out session
    const s2 = await signIn();
    const out = await raw(p.port, 'DELETE', '/v1/console/session', { cookie: s2.cookie, 'x-csrf-token': s2.csrf, origin: p.origin });
    expect(out.status).toBe(200);
    await get('after sign-out GET', '/v1/admin/datasets', { cookie: s2.cookie });
    attempts.push({ what: 'after sign-out POST', a: await raw(p.port, 'POST', '/v1/admin/authorisations', { cookie: s2.cookie, 'x-csrf-token': s2.csrf, origin: p.origin, 'content-type': 'application/json' }, grant) });
    const reread = await raw(p.port, 'GET', '/v1/console/session', { cookie: s2.cookie });
    expect(JSON.parse(reread.body)).toMatchObject({ signedIn: false });
    expect(reread.body).not.toContain(s2.csrf);

    const through = attempts.filter((x) => ok(x.a));
    console.log(`[console-session] unauthenticated attempts: ${attempts.length}, answered 2xx: ${through.length}${through.length ? ` (${through.map((x) => x.what).join('; ')})` : ''}`);
    console.log(`[console-session] statuses: ${JSON.stringify(Object.fromEntries([...new Set(attempts.map((x) => x.a.status))].map((s) => [s, attempts.filter((x) => x.a.status === s).length])))}`);
    expect(through).toEqual([]);
    // The token never comes back in an answer (e.g. a 404 echoing the path drops the query).
    expect(attempts.filter((x) => x.a.body.includes(TOKEN) && !x.what.startsWith('path')).map((x) => x.what)).toEqual([]);
    expect(await registry()).toEqual([]);
  }, 120_000);

  it('an expired session is refused (the node clock moved 8 h on)', async () => {
    const { cookie } = await signIn();
    expect((await raw(p.port, 'GET', '/v1/admin/datasets', { cookie })).status).toBe(200);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 8 * 3600_000 + 1000);
      const a = await raw(p.port, 'GET', '/v1/admin/datasets', { cookie });
      console.log(`[console-session] expired session: ${a.status}`);
      expect(a.status).toBe(401);
    } finally {
      vi.useRealTimers();
    }
    // Gone for good, not only while the clock is ahead.
    expect((await raw(p.port, 'GET', '/v1/admin/datasets', { cookie })).status).toBe(401);
  });

  it('no state change with the session cookie alone: forged, missing or foreign CSRF, foreign origins, simple-request bodies', async () => {
    const me = await signIn();
    const other = await signIn();
    const json = { 'content-type': 'application/json' };
    const tries: { what: string; headers: Record<string, string>; body: string; method?: string; path?: string }[] = [
      { what: 'no csrf', headers: { ...json, origin: p.origin }, body: grant },
      { what: 'empty csrf', headers: { ...json, origin: p.origin, 'x-csrf-token': '' }, body: grant },
      { what: 'forged csrf', headers: { ...json, origin: p.origin, 'x-csrf-token': 'A'.repeat(43) }, body: grant },
      { what: 'session id as csrf', headers: { ...json, origin: p.origin, 'x-csrf-token': me.cookie.split('=')[1]! }, body: grant },
      { what: "another session's csrf", headers: { ...json, origin: p.origin, 'x-csrf-token': other.csrf }, body: grant },
      { what: 'csrf in query', headers: { ...json, origin: p.origin }, body: grant, path: `/v1/admin/authorisations?x-csrf-token=${me.csrf}` },
      { what: 'csrf in a cookie', headers: { ...json, origin: p.origin, cookie: `${me.cookie}; x-csrf-token=${me.csrf}` }, body: grant },
      { what: 'Origin null', headers: { ...json, origin: 'null', 'x-csrf-token': me.csrf }, body: grant },
      { what: 'Origin other host', headers: { ...json, origin: 'http://evil.example', 'x-csrf-token': me.csrf }, body: grant },
      { what: 'Origin same host other port', headers: { ...json, origin: `http://127.0.0.1:${p.port + 1}`, 'x-csrf-token': me.csrf }, body: grant },
      { what: 'Origin https same host', headers: { ...json, origin: `https://127.0.0.1:${p.port}`, 'x-csrf-token': me.csrf }, body: grant },
      { what: 'Sec-Fetch-Site same-site', headers: { ...json, 'sec-fetch-site': 'same-site', 'x-csrf-token': me.csrf }, body: grant },
      { what: 'Sec-Fetch-Site cross-site', headers: { ...json, 'sec-fetch-site': 'cross-site', 'x-csrf-token': me.csrf }, body: grant },
      { what: 'text/plain JSON (simple request)', headers: { 'content-type': 'text/plain', origin: 'http://evil.example' }, body: grant },
      { what: 'text/plain JSON, no origin', headers: { 'content-type': 'text/plain' }, body: grant },
      { what: 'form-encoded', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.example' }, body: new URLSearchParams(JSON.parse(grant) as Record<string, string>).toString() },
      { what: 'multipart', headers: { 'content-type': 'multipart/form-data; boundary=x', origin: 'http://evil.example' }, body: '--x\r\nContent-Disposition: form-data; name="uscc"\r\n\r\n91350100M000100Y43\r\n--x--\r\n' },
      { what: 'import-text, text/plain', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ csv: 'uscc,bank,purpose,valid_from,valid_to,revoked_at,source_ref\n91350100M000100Y43,bank-1,modelling,2024-01-01,2030-01-01,,T\n', name: 'x.csv' }), path: '/v1/admin/authorisations/import-text' },
      { what: 'revoke, no csrf', headers: { ...json }, body: JSON.stringify({ uscc: '91350100M000100Y43', bank: 'bank-1', purpose: 'modelling' }), path: '/v1/admin/authorisations/revoke' },
      { what: 'POST with override GET', headers: { ...json, 'x-http-method-override': 'GET' }, body: grant },
      { what: 'cancel job, no body, no csrf', headers: {}, body: '', path: '/v1/admin/jobs/x/cancel' },
      { what: 'sign-out, no csrf', headers: {}, body: '', method: 'DELETE', path: '/v1/console/session' },
      { what: 'sign-out, other csrf', headers: { 'x-csrf-token': other.csrf }, body: '', method: 'DELETE', path: '/v1/console/session' },
    ];
    const answers = [];
    for (const t of tries) {
      const headers = { cookie: me.cookie, ...t.headers };
      answers.push({ what: t.what, a: await raw(p.port, t.method ?? 'POST', t.path ?? '/v1/admin/authorisations', headers, t.body) });
    }
    const through = answers.filter((x) => ok(x.a));
    console.log(`[console-session] forged state changes: ${answers.length}, answered 2xx: ${through.length}${through.length ? ` (${through.map((x) => x.what).join('; ')})` : ''}; registry after: ${(await registry()).length} records`);
    console.log(`[console-session] codes: ${answers.map((x) => `${x.what}=${x.a.status}`).join(', ')}`);
    expect(through).toEqual([]);
    expect(await registry()).toEqual([]);
    // The session survives the forgeries (no sign-out by CSRF) and its own token works: the control.
    const good = await raw(p.port, 'POST', '/v1/admin/authorisations', { cookie: me.cookie, 'x-csrf-token': me.csrf, origin: p.origin, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' }, grant);
    expect(good.status).toBe(201);
    expect(await registry()).toHaveLength(1);
  }, 60_000);

  it('serves no file but the console listing: traversal, encodings, NUL, backslashes, directories, sources', async () => {
    const listed = new Set([...consoleFiles().values()].map((f) => readFileSync(f).toString('utf8')));
    const package_ = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    const targets = [
      '/console/../package.json',
      '/console/%2e%2e/package.json',
      '/console/%2E%2E%2Fpackage.json',
      '/console/..%2fpackage.json',
      '/console/..%5cpackage.json',
      '/console/..\\package.json',
      '/console/%252e%252e/package.json',
      '/console/js/../../package.json',
      '/console/js/%2e%2e/%2e%2e/server/app.ts',
      '/console/vendor/../../node_modules/echarts/package.json',
      '/console/vendor/%2e%2e/%2e%2e/node_modules/echarts/package.json',
      '/console/vendor/echarts.mjs%00.json',
      '/console/js/app.js%00',
      '/console/js/app.js%00.ts',
      '/console/vendor/fonts/files/',
      '/console/vendor/fonts/',
      '/console/vendor/',
      '/console/js/',
      '/console/js',
      '/console/js/pages',
      '/console/css/',
      '/console//js/app.js',
      '/console/./js/app.js',
      '/console/%2fetc%2fpasswd',
      '/console//etc/passwd',
      '/console/C:%5cWindows%5cwin.ini',
      '/console/index.html/',
      '/console/vendor/fonts/noto-sans-sc-400.css/..',
      '/console/vendor/echarts.js',
      '/console/vendor/echarts',
      '/console/../server/app.ts',
      '/console/js/app.ts',
      '/console/../console/js/app.js.map',
      '/console/../data/fate/breast_hetero_host.csv',
      '/console/.git/config',
      '/console/%2e%2e/.git/config',
    ];
    const leaks: string[] = [];
    for (const t of targets) {
      const a = await raw(p.port, 'GET', t);
      if (ok(a) && (!listed.has(a.body) || a.body === package_)) leaks.push(`${t} ${a.status}`);
    }
    console.log(`[console-session] static traversal attempts: ${targets.length}, files served outside the console listing: ${leaks.length}${leaks.length ? ` (${leaks.join('; ')})` : ''}`);
    expect(leaks).toEqual([]);
  }, 60_000);

  it('every console file carries a CSP without inline script, nosniff and frame-ancestors none; the cookie is HttpOnly, SameSite=Strict, Path=/v1/', async () => {
    const files = [...consoleFiles().keys()];
    const weak: string[] = [];
    for (const f of ['', ...files]) {
      const a = await raw(p.port, 'GET', `/console/${f}`);
      const csp = /content-security-policy: ([^\r\n]+)/i.exec(a.head)?.[1] ?? '';
      const script = /script-src ([^;]+)/.exec(csp)?.[1] ?? /default-src ([^;]+)/.exec(csp)?.[1] ?? '*';
      if (a.status !== 200 || !csp || /unsafe-inline|unsafe-eval|\*|data:|blob:/.test(script) || !/frame-ancestors 'none'/.test(csp) || !/object-src|default-src 'none'/.test(csp) || !/base-uri 'none'/.test(csp) || !/x-content-type-options: nosniff/i.test(a.head)) weak.push(f || 'index');
    }
    const s = await raw(p.port, 'POST', '/v1/console/session', { 'content-type': 'application/json' }, JSON.stringify({ token: TOKEN }));
    const set = /set-cookie: ([^\r\n]+)/i.exec(s.head)![1]!;
    console.log(`[console-session] console files: ${files.length + 1}, without a strict CSP/nosniff/frame-ancestors: ${weak.length}; cookie over http: ${set.replace(/=[A-Za-z0-9_-]{20,}/, '=…')}`);
    expect(weak).toEqual([]);
    expect(set).toContain('HttpOnly');
    expect(set).toContain('SameSite=Strict');
    expect(set).toContain('Path=/v1/');
    expect(set).not.toMatch(/domain=/i);
    expect(set).not.toContain(TOKEN);
  }, 60_000);
});

describe('console cookie over TLS', () => {
  let p: Platform;
  beforeAll(async () => {
    const dir = tempDir('indomain-console-tls-');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    p = await platform({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) });
  }, 60_000);
  afterAll(async () => p?.close());

  it('sets Secure on the session cookie when the node serves HTTPS', async () => {
    const set = await new Promise<string>((resolve, reject) => {
      const r = httpsRequest({ host: '127.0.0.1', port: p.port, method: 'POST', path: '/v1/console/session', rejectUnauthorized: false, headers: { 'content-type': 'application/json', origin: p.origin } }, (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.headers['set-cookie'] ?? '')));
      });
      r.on('error', reject);
      r.end(JSON.stringify({ token: TOKEN }));
    });
    console.log(`[console-session] cookie over https: ${set.replace(/=[A-Za-z0-9_-]{20,}/, '=…')}`);
    expect(set).toContain('; Secure');
    expect(set).toContain('HttpOnly');
    expect(set).toContain('SameSite=Strict');
  });
});
