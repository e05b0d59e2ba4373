/**
 * Who may call the administrative routes: the admin token (header `x-admin-token`, exactly as the
 * command line and the lab send it), or a console session.
 *
 * A console session starts with the admin token in a POST body (never a URL): the node answers
 * with a random session id in a cookie (HttpOnly, SameSite=Strict, Path=/v1/, Secure over TLS) and
 * a CSRF token in the body, which the page keeps in memory and sends as `x-csrf-token` on every
 * request that changes state. Sessions live in this node's memory only and expire.
 *
 *   - a request with an `x-admin-token` header: the token decides (valid → in, else SRV_ADMIN_TOKEN);
 *   - else a valid session cookie: GET and HEAD are in; anything else also needs the session's CSRF
 *     token and, when the browser names one, this node's own origin (SRV_CSRF otherwise);
 *   - else SRV_ADMIN_TOKEN. A token in the query string is never read.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { IndomainError } from '../../engine/errors.ts';

/**
 * The session cookie's name, per node: cookies are scoped by host, not port, so nodes on one host
 * (the lab: every node on 127.0.0.1) would otherwise overwrite each other's session.
 */
export const sessionCookieName = (node: string) => `indomain_console_${node.replace(/[^A-Za-z0-9_-]/g, '_')}`;
export const CSRF_HEADER = 'x-csrf-token';
/** The cookie goes to the API only, not to the static console files. */
export const SESSION_PATH = '/v1/';

export interface Session {
  readonly id: string;
  readonly csrf: string;
  readonly expires: number;
}

const digest = (s: string) => createHash('sha256').update(s).digest();
/** Constant time, and the lengths are not revealed either. */
export const sameSecret = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

/** A node's console sessions, in memory (a restart signs everyone out). */
export class ConsoleSessions {
  private readonly live = new Map<string, Session>();

  constructor(
    /** The node's name: the cookie is named for it ({@link sessionCookieName}). */
    node: string,
    readonly ttlMs = 8 * 3600_000,
    readonly max = 256,
  ) {
    this.cookie = sessionCookieName(node);
  }

  readonly cookie: string;

  create(now = Date.now()): Session {
    this.sweep(now);
    // The oldest goes first when full: a flood of sign-ins cannot grow the map.
    while (this.live.size >= this.max) this.live.delete(this.live.keys().next().value!);
    const s: Session = { id: randomBytes(32).toString('base64url'), csrf: randomBytes(32).toString('base64url'), expires: now + this.ttlMs };
    this.live.set(s.id, s);
    return s;
  }

  get(id: string | undefined, now = Date.now()): Session | undefined {
    if (!id) return undefined;
    const s = this.live.get(id);
    if (!s) return undefined;
    if (s.expires <= now) {
      this.live.delete(id);
      return undefined;
    }
    return s;
  }

  end(id: string): void {
    this.live.delete(id);
  }

  private sweep(now: number): void {
    for (const [id, s] of this.live) if (s.expires <= now) this.live.delete(id);
  }

  /** The session named by the request's cookie, if it is live. */
  fromRequest(req: FastifyRequest): Session | undefined {
    return this.get(cookie(req.headers.cookie, this.cookie));
  }
}

/** One cookie's value from a Cookie header. */
export function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export function sessionCookie(name: string, s: Session, secure: boolean): string {
  return `${name}=${s.id}; Path=${SESSION_PATH}; HttpOnly; SameSite=Strict; Max-Age=${Math.floor((s.expires - Date.now()) / 1000)}${secure ? '; Secure' : ''}`;
}

export function clearedCookie(name: string, secure: boolean): string {
  return `${name}=; Path=${SESSION_PATH}; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`;
}

/** A browser's request from another site: an Origin that is not this node's, or a cross-site fetch. */
export function foreignOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `${req.protocol}://${req.host}`) return true;
  const site = req.headers['sec-fetch-site'];
  return site !== undefined && site !== 'same-origin' && site !== 'none';
}

/** Refuse a state-changing request of a session without its CSRF token or from another origin. */
export function checkCsrf(req: FastifyRequest, s: Session): void {
  const sent = req.headers[CSRF_HEADER];
  if (typeof sent !== 'string' || !sameSecret(sent, s.csrf)) throw new IndomainError('SRV_CSRF', `the ${CSRF_HEADER} header is missing or wrong`);
  if (foreignOrigin(req)) throw new IndomainError('SRV_CSRF', 'the request comes from another origin');
}

const SAFE = new Set(['GET', 'HEAD']);

/** The admin plugin's onRequest check: the admin token, or a console session (with CSRF for changes). */
export function adminCheck(adminToken: string, sessions: ConsoleSessions, unsafe: { csrf?: 'on' | 'off' } = {}): (req: FastifyRequest) => Promise<void> {
  const expected = digest(adminToken);
  return async (req) => {
    const header = req.headers['x-admin-token'];
    if (header !== undefined) {
      if (!timingSafeEqual(digest(String(header)), expected)) throw new IndomainError('SRV_ADMIN_TOKEN');
      return;
    }
    const s = sessions.fromRequest(req);
    if (!s) throw new IndomainError('SRV_ADMIN_TOKEN');
    // TEST ONLY 'off' (tests/attacks/console-csrf.test.ts): the session alone would do.
    if (!SAFE.has(req.method) && unsafe.csrf !== 'off') checkCsrf(req, s);
  };
}
