/**
 * The web console of a node at `/console/`: its own files (console/ in the repository: plain ES
 * modules and CSS, no build step), the ECharts browser build and the Noto Sans SC web font from
 * their registry packages, all from this node (works offline), and the console's sign-in:
 *
 *   POST   /v1/console/session  { token }  → a session cookie and { csrf, node, role, expires }
 *   GET    /v1/console/session             → the same for a live session (a reloaded page), else { signedIn: false }
 *   DELETE /v1/console/session             → sign-out (needs the session's CSRF token)
 *
 * Only files listed when the plugin starts are served (no path from a request reaches the file
 * system), with a content security policy that allows this node's own scripts, styles and fonts.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { IndomainError } from '../../engine/errors.ts';
import { checkCsrf, clearedCookie, foreignOrigin, sameSecret, sessionCookie, type ConsoleSessions, type Session } from './console-auth.ts';
import { errors } from './schemas.ts';

const CONSOLE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../console');
const require = createRequire(import.meta.url);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.woff2': 'font/woff2',
  '.svg': 'image/svg+xml',
};

export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Every servable file: URL path under /console/ → file on disk. */
export function consoleFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (TYPES[extname(name)]) files.set(relative(CONSOLE_DIR, p).split('\\').join('/'), p);
    }
  };
  walk(CONSOLE_DIR);
  // echarts' main is dist/echarts.js: its ES module build sits beside it.
  files.set('vendor/echarts.mjs', join(dirname(require.resolve('echarts')), 'echarts.esm.min.mjs'));
  const fonts = dirname(require.resolve('@fontsource/noto-sans-sc/400.css'));
  files.set('vendor/fonts/noto-sans-sc-400.css', join(fonts, '400.css'));
  for (const f of readdirSync(join(fonts, 'files'))) if (/-400-normal\.woff2$/.test(f)) files.set(`vendor/fonts/files/${f}`, join(fonts, 'files', f));
  return files;
}

const SessionView = Type.Object({ signedIn: Type.Literal(true), csrf: Type.String(), node: Type.String(), role: Type.String(), expires: Type.Number() });
const NoSession = Type.Object({ signedIn: Type.Literal(false), node: Type.String(), role: Type.String() });

/** Who serves the console: a node (platform, bank, coordinator) or the regulator's own verifier (server/regulator.ts). */
export interface ConsoleOptions {
  readonly name: string;
  readonly role: string;
  readonly adminToken: string;
  readonly sessions: ConsoleSessions;
}

export const consolePlugin: FastifyPluginAsyncTypebox<ConsoleOptions> = async (app, o) => {
  const node = { identity: { name: o.name }, role: o.role, adminToken: o.adminToken, sessions: o.sessions };
  const files = consoleFiles();
  const secure = (proto: string) => proto === 'https';

  const send = (reply: FastifyReply, rel: string) => {
    const path = files.get(rel);
    if (!path) throw new IndomainError('SRV_NOT_FOUND', 'no such console file');
    const type = TYPES[extname(path)]!;
    return reply
      .header('content-type', type)
      .header('content-security-policy', CONSOLE_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', rel.startsWith('vendor/') ? 'public, max-age=86400' : 'no-cache')
      .send(readFileSync(path));
  };
  if (app.hasDecorator('routeTable')) {
    app.addHook('onRoute', (r) => {
      for (const method of [r.method].flat()) app.routeTable.console.push({ method, url: r.url! });
    });
  }
  const file = (summary: string) => ({ schema: { summary, response: { 200: Type.String({ description: 'the file (HTML, JavaScript, CSS or a font)' }), ...errors } } });
  app.get('/console', file('The console (index.html)'), async (_req, reply) => send(reply, 'index.html'));
  app.get('/console/', file('The console (index.html)'), async (_req, reply) => send(reply, 'index.html'));
  app.get('/console/*', file('A file of the console: its scripts and styles, ECharts, the Noto Sans SC font'), async (req, reply) => send(reply, (req.params as { '*': string })['*']));

  const view = (s: Session) => ({ signedIn: true as const, csrf: s.csrf, node: node.identity.name, role: node.role, expires: s.expires });
  app.post(
    '/v1/console/session',
    {
      // Anyone may call this route: a small body only, refused before it is parsed.
      bodyLimit: 4096,
      schema: {
        summary: "Sign in to the console with the node's admin token (in the body, never a URL): sets an HttpOnly, SameSite=Strict session cookie; the CSRF token to send as x-csrf-token",
        body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 512 }) }, { additionalProperties: false }),
        response: { 200: SessionView, ...errors },
      },
    },
    async (req, reply) => {
      if (foreignOrigin(req)) throw new IndomainError('SRV_CSRF', 'sign-in from another origin');
      if (!sameSecret(req.body.token, node.adminToken)) throw new IndomainError('SRV_ADMIN_TOKEN');
      const s = node.sessions.create();
      return reply.header('set-cookie', sessionCookie(o.sessions.cookie, s, secure(req.protocol))).header('cache-control', 'no-store').send(view(s));
    },
  );
  // Not signed in is an answer here, not an error: the sign-in page asks this on every load.
  app.get('/v1/console/session', { schema: { summary: 'The live console session of this browser (after a reload), or signedIn false', response: { 200: Type.Union([SessionView, NoSession]), ...errors } } }, async (req, reply) => {
    const s = node.sessions.fromRequest(req);
    return reply.header('cache-control', 'no-store').send(s ? view(s) : { signedIn: false as const, node: node.identity.name, role: node.role });
  });
  app.delete('/v1/console/session', { schema: { summary: 'Sign out of the console (needs the x-csrf-token header)', response: { 200: Type.Object({ signedOut: Type.Boolean() }), ...errors } } }, async (req, reply) => {
    const s = node.sessions.fromRequest(req);
    if (!s) throw new IndomainError('SRV_ADMIN_TOKEN', 'not signed in');
    checkCsrf(req, s);
    node.sessions.end(s.id);
    return reply.header('set-cookie', clearedCookie(o.sessions.cookie, secure(req.protocol))).send({ signedOut: true });
  });
};
