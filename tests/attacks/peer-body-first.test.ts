/**
 * Attack: make a node buffer and parse a large body on its signed peer routes without holding any
 * peer's key. The peer routes check the signature in preValidation, after the body is read; the
 * root instance parses JSON and text, so an unsigned `application/json` body of tens of megabytes
 * was turned into millions of objects before anything refused it.
 *
 * The attacker knows only what is public (a node's name from GET /v1/health) and sends, to every
 * peer route of every node role (taken from the app's route table: every route not behind the
 * admin token, except the public GET ones), (a) an unsigned body, (b) a body under forged headers
 * (a pinned sender's name, a fresh timestamp, a well-formed nonce, a garbage signature), each as
 * JSON that does not parse (the reply then tells whether the parser ran) and as valid JSON, and
 * times one 40 MB unsigned JSON body per node. Defended: every one is refused before its body is
 * read (SRV_UNSIGNED, or a refusal of the media type or of the signature), no reply comes from the
 * JSON parser. Undefended (`unsafe.peerBodyFirst`, the old order): the parser runs on every one.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { injectNodes, type InjectNode } from '../helpers/inject-nodes.ts';

interface Outcome {
  sent: number;
  /** Replies that only the JSON parser gives (it read and parsed the unsigned body). */
  parsed: number;
  codes: Record<string, number>;
  /** Milliseconds to refuse one unsigned 40 MB JSON body, per node. */
  bigMs: number[];
}

const BIG = '[' + Array.from({ length: 3_000_000 }, (_, i) => `{"a":${i}}`).join(',') + ']';

function peerRoutes(n: InjectNode): string[] {
  // Admin routes are behind the token; the console's sign-in is public with a 4 kB body limit (tests/console/access.test.ts).
  const admin = new Set([...n.app.routeTable.admin, ...n.app.routeTable.console].map((r) => `${r.method} ${r.url}`));
  return n.app.routeTable.all.filter((r) => r.method === 'POST' && !admin.has(`${r.method} ${r.url}`)).map((r) => r.url);
}

async function attack(nodes: InjectNode[]): Promise<Outcome> {
  const out: Outcome = { sent: 0, parsed: 0, codes: {}, bigMs: [] };
  for (const n of nodes) {
    const routes = peerRoutes(n);
    expect(routes.length).toBeGreaterThan(0);
    const forged = {
      'x-indomain-node': nodes.find((m) => m !== n)!.name,
      'x-indomain-timestamp': String(Date.now()),
      'x-indomain-nonce': randomBytes(16).toString('hex'),
      'x-indomain-signature': randomBytes(64).toString('base64'),
    };
    for (const url of routes) {
      for (const headers of [{}, forged]) {
        for (const payload of ['{"job":"j","body":', '{"job":"j","body":{"a":[1,2,3]}}']) {
          const r = await n.app.inject({ method: 'POST', url, headers: { ...headers, 'content-type': 'application/json' }, payload });
          out.sent++;
          const b = r.json() as { code: string; message: string };
          expect(r.statusCode).toBeGreaterThanOrEqual(400);
          expect(r.statusCode).toBeLessThan(500);
          out.codes[b.code] = (out.codes[b.code] ?? 0) + 1;
          // Only a parsed body gives these: the JSON parser's refusal, or the check of a parsed non-bytes body.
          if (/not valid JSON/.test(b.message) || b.code === 'SRV_MALFORMED_BODY') out.parsed++;
        }
      }
    }
    const t = performance.now();
    const r = await n.app.inject({ method: 'POST', url: routes[0]!, headers: { 'content-type': 'application/json' }, payload: BIG });
    out.bigMs.push(Math.round(performance.now() - t));
    expect(r.statusCode).toBeLessThan(500);
  }
  return out;
}

describe('peer routes: an unsigned body is not read before the signature headers are checked', () => {
  let on: InjectNode[], off: InjectNode[];
  let closeAll: () => Promise<void>;
  beforeAll(async () => {
    const a = await injectNodes();
    const b = await injectNodes({ peerBodyFirst: true });
    on = a.nodes;
    off = b.nodes;
    closeAll = async () => void (await Promise.all([a.close(), b.close()]));
  }, 60_000);
  afterAll(async () => closeAll?.());

  it('defended: no unsigned or forged body is parsed; undefended: every one is', async () => {
    const d = await attack(on);
    const u = await attack(off);
    console.log(`peer-body-first: ${BIG.length} B JSON; defence on: ${d.sent} requests, ${d.parsed} parsed, codes ${JSON.stringify(d.codes)}, 40 MB refused in ${d.bigMs.join('/')} ms (coordinator/platform/bank)`);
    console.log(`peer-body-first: defence off: ${u.sent} requests, ${u.parsed} parsed, codes ${JSON.stringify(u.codes)}, 40 MB refused in ${u.bigMs.join('/')} ms`);
    expect(d.parsed).toBe(0);
    // Forged headers without the body digest header are unsigned (since issue 15 the signature is checked before the body).
    expect(Object.keys(d.codes)).toContain('SRV_UNSIGNED');
    for (const c of Object.keys(d.codes)) expect(['SRV_BAD_REQUEST', 'SRV_UNSIGNED', 'SRV_BAD_SIGNATURE']).toContain(c);
    expect(u.sent).toBe(d.sent);
    expect(u.parsed).toBe(u.sent);
  }, 120_000);
});
