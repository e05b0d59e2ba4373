/**
 * Property: whatever body a caller sends, a node answers with a coded refusal (4xx, `{ code,
 * message }`, a code of the catalogue, no stack trace) or, for a well-formed request, its normal
 * answer; never a 5xx. Random JSON and msgpack bodies (seeded, shaped like the routes' own fields,
 * nested, of every JSON type, and raw garbage) go to every admin route of every role with the admin
 * token; random msgpack envelopes (every declared protocol/type pair in turn with random bodies,
 * random envelopes, random bytes) go to every peer route, validly signed by a pinned peer, so that
 * they get past the signature check to the envelope, the gate and the handlers. Every declaration
 * module is loaded (tests/helpers/declarations.ts), so a new protocol's messages are sent without
 * a change here. A three-party and a two-party job are started on the platform and the bank first,
 * so that messages for them (vfl-lr and scorecard; vfl-lr-2p and scorecard-2p) reach the gate's
 * role checks and the handlers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../../engine/errors.ts';
import { seededRng, type Rng } from '../../engine/rng.ts';
import { encodeMessage, pack } from '../../protocols/codec.ts';
import type { Envelope, FieldKind, MessageSpec } from '../../protocols/message.ts';
import { parseJobSpec } from '../../server/jobs/spec.ts';
import { signRequest, type Identity } from '../../server/signing.ts';
import { MESSAGE_PATH } from '../../server/transport/egress.ts';
import '../../server/transport/exchange.ts';
import { allDeclarations } from '../helpers/declarations.ts';
import { INJECT_TOKEN, injectNodes, type InjectNode } from '../helpers/inject-nodes.ts';

const PER_FAMILY = 2000;
const KEYS = ['name', 'path', 'idColumn', 'labelColumn', 'uscc', 'exclude', 'model', 'id', 'ids', 'features', 'purpose', 'dataset', 'dropPoints', 'stabilityThreshold', 'reason', 'pipeline', 'coordinator', 'guest', 'host', 'node', 'seed', 'testFraction', 'training', 'scorecard', 'bank', 'valid_from', 'valid_to', 'revoked_at', 'source_ref', 'stage', 'spec', 'request', '__proto__', 'constructor'];
const STRINGS = ['', 'j', 'fuzz-job', 'bank-1', 'platform', 'coordinator', 'pre-loan', 'scorecard', 'lr', '../../etc/passwd', '/etc/passwd', 'a'.repeat(5000), '\u0000', '%00', 'null', '{"id":1}', '91110000MA0000000X', '𝔘𝔫𝔦'];

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)]!;

function randomValue(rng: Rng, depth = 0): unknown {
  const r = rng.next();
  if (depth > 3 || r < 0.15) return pick(rng, STRINGS);
  if (r < 0.25) return null;
  if (r < 0.32) return rng.next() < 0.5;
  if (r < 0.45) return pick(rng, [0, -1, 1, 0.5, 1e308, -1e308, 2 ** 53 + 1, Math.floor(rng.next() * 1e6), rng.next()]);
  if (r < 0.55) return Array.from({ length: Math.floor(rng.next() * 4) }, () => randomValue(rng, depth + 1));
  if (r < 0.6) return Buffer.from(rng.bytes(Math.floor(rng.next() * 40)));
  return randomObject(rng, depth + 1);
}

function randomObject(rng: Rng, depth = 0): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const n = Math.floor(rng.next() * 7);
  for (let i = 0; i < n; i++) {
    // An own property even for "__proto__" (as JSON.parse makes it), never the prototype.
    Object.defineProperty(o, rng.next() < 0.85 ? pick(rng, KEYS) : Buffer.from(rng.bytes(4)).toString('hex'), { value: randomValue(rng, depth), enumerable: true, writable: true, configurable: true });
  }
  return o;
}

/** A value for a declared field kind: mostly of the declared kind, sometimes not. */
function fieldValue(rng: Rng, kind: FieldKind): unknown {
  if (rng.next() < 0.3) return randomValue(rng, 2);
  if (typeof kind === 'string') {
    switch (kind) {
      case 'int':
        return Math.floor(rng.next() * 100) - 10;
      case 'number':
        return rng.next() * 10 - 5;
      case 'string':
        return pick(rng, STRINGS);
      case 'boolean':
        return rng.next() < 0.5;
      case 'bytes':
        return rng.bytes(Math.floor(rng.next() * 64));
      case 'bytes[]':
        return [rng.bytes(32), rng.bytes(3)];
      case 'bytes[][]':
        return [[rng.bytes(32)]];
      case 'f64':
        return Float64Array.from({ length: Math.floor(rng.next() * 5) }, () => rng.next());
      case 'number[]':
        return [rng.next(), 1];
      case 'number[][]':
        return [[rng.next()]];
      case 'string[]':
        return [pick(rng, STRINGS)];
    }
  }
  if ('oneOf' in kind) return pick(rng, kind.oneOf);
  if ('record' in kind) return Object.fromEntries(Object.entries(kind.record).map(([k, v]) => [k, fieldValue(rng, v)]));
  return [Object.fromEntries(Object.entries(kind.records).map(([k, v]) => [k, fieldValue(rng, v)]))];
}

const JOBS = ['fuzz-job', 'fuzz-job-2p'];

/** `next`: the declared message to send if this envelope is a declared one (the caller cycles through all). */
function randomEnvelopeBytes(rng: Rng, next: () => MessageSpec): { bytes: Uint8Array; from: string | undefined; declared?: string } {
  const r = rng.next();
  if (r < 0.08) return { bytes: rng.bytes(Math.floor(rng.next() * 200)), from: undefined };
  if (r < 0.16) return { bytes: pack(randomValue(rng)), from: undefined };
  const roles = ['guest', 'host', 'coordinator', 'arbiter', 'x'];
  if (r < 0.3) {
    const env = { job: pick(rng, ['j', ...JOBS, '']), protocol: pick(rng, ['job', 'psi', 'score', 'x']), type: pick(rng, ['JobStart', 'StageStart', 'X']), round: pick(rng, [0, 1, -1, 2 ** 40]), from: pick(rng, roles), to: pick(rng, roles), body: randomValue(rng) };
    return { bytes: pack(env), from: env.from };
  }
  const m = next();
  const from = typeof m.from === 'string' ? m.from : pick(rng, m.from);
  const env: Envelope = {
    job: rng.next() < 0.8 ? pick(rng, JOBS) : pick(rng, STRINGS),
    protocol: m.protocol,
    type: m.type,
    round: rng.next() < 0.7 ? 0 : Math.floor(rng.next() * 5),
    from: rng.next() < 0.85 ? from : pick(rng, roles),
    to: rng.next() < 0.85 ? pick(rng, m.to) : pick(rng, roles),
    body: Object.fromEntries(Object.entries(m.fields).filter(() => rng.next() < 0.95).map(([k, v]) => [k, fieldValue(rng, v)])),
  };
  return { bytes: encodeMessage(env), from: env.from, declared: `${m.protocol}/${m.type}` };
}

interface Tally {
  requests: number;
  ok: number;
  refused: Map<string, number>;
  serverErrors: string[];
}

function record(t: Tally, what: string, status: number, body: string): void {
  t.requests++;
  if (status >= 200 && status < 300) {
    t.ok++;
    return;
  }
  let b: { code?: unknown; message?: unknown } = {};
  try {
    b = JSON.parse(body) as typeof b;
  } catch {
    /* checked below */
  }
  const coded = typeof b.code === 'string' && Object.hasOwn(ERRORS, b.code) && typeof b.message === 'string' && Object.keys(b).length === 2;
  if (status >= 500 || status < 400 || !coded || /\.ts:\d+|\n\s+at /.test(body)) t.serverErrors.push(`${what}: ${status} ${body.slice(0, 300)}`);
  else t.refused.set(b.code as string, (t.refused.get(b.code as string) ?? 0) + 1);
}

const summary = (t: Tally) => `${t.requests} requests, ${t.ok} accepted, ${t.serverErrors.length} 5xx/uncoded; refusals ${[...t.refused].map(([c, n]) => `${c} ${n}`).join(', ')}`;

describe('fuzz: random admin and peer bodies', () => {
  let nodes: InjectNode[];
  let identities: Map<string, Identity>;
  let close: () => Promise<void>;
  const nodeOf: Record<string, string> = { guest: 'bank-1', host: 'platform', coordinator: 'coordinator', arbiter: 'coordinator' };

  beforeAll(async () => {
    ({ nodes, identities, close } = await injectNodes());
    // A three-party and a two-party job on the platform and the bank, started by the coordinator as it would.
    for (const [id, arbiter] of [['fuzz-job', {}], ['fuzz-job-2p', { arbiter: 'none' }]] as const) {
      const spec = JSON.stringify(parseJobSpec({ id, pipeline: 'scorecard', coordinator: 'coordinator', guest: { node: 'bank-1', dataset: 'loans' }, host: { node: 'platform', dataset: 'credit' }, ...arbiter }));
      for (const [to, name] of [['host', 'platform'], ['guest', 'bank-1']] as const) {
        const bytes = encodeMessage({ job: id, protocol: 'job', type: 'JobStart', round: 0, from: 'coordinator', to, body: { spec } });
        const r = await nodes.find((n) => n.name === name)!.app.inject({ method: 'POST', url: MESSAGE_PATH, headers: { 'content-type': 'application/msgpack', ...signRequest(identities.get('coordinator')!, 'POST', MESSAGE_PATH, bytes) }, payload: Buffer.from(bytes) });
        expect(r.statusCode, r.body).toBe(202);
      }
    }
  });
  afterAll(async () => close());

  it(`answers ${PER_FAMILY}+ random bodies per admin route family, per role, with coded 4xx or a normal answer, never a 5xx`, async () => {
    const rng = seededRng('fuzz-admin');
    for (const node of nodes) {
      const t: Tally = { requests: 0, ok: 0, refused: new Map(), serverErrors: [] };
      const routes = node.app.routeTable.admin.filter((r) => r.method !== 'HEAD');
      for (let i = 0; i < PER_FAMILY; i++) {
        const route = pick(rng, routes);
        const url = route.url.replace(/:[A-Za-z]+/g, () => encodeURIComponent(String(pick(rng, ['fuzz-job', 'j', '%', '..', 'a'.repeat(300)]))));
        const headers: Record<string, string> = { 'x-admin-token': INJECT_TOKEN };
        let payload: string | Buffer | undefined;
        const r = rng.next();
        if (route.method === 'GET') payload = undefined;
        else if (r < 0.7) ((headers['content-type'] = 'application/json'), (payload = JSON.stringify(rng.next() < 0.85 ? randomObject(rng) : randomValue(rng))));
        else if (r < 0.8) ((headers['content-type'] = 'application/json'), (payload = Buffer.from(rng.bytes(Math.floor(rng.next() * 50)))));
        else if (r < 0.9) ((headers['content-type'] = 'application/msgpack'), (payload = Buffer.from(pack(randomObject(rng)))));
        else ((headers['content-type'] = pick(rng, ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data'])), (payload = 'a=1'));
        const query = route.method === 'GET' && rng.next() < 0.5 ? `?${pick(rng, ['model', 'uscc', 'bank', 'x'])}=${encodeURIComponent(String(randomValue(rng, 3)))}` : '';
        const res = await node.app.inject({ method: route.method as 'GET' | 'POST', url: url + query, headers, ...(payload !== undefined ? { payload } : {}) });
        record(t, `${node.role} ${route.method} ${url}${query}`, res.statusCode, res.body);
      }
      console.log(`admin ${node.role}: ${summary(t)}`);
      expect(t.requests).toBeGreaterThanOrEqual(PER_FAMILY);
      expect(t.serverErrors.slice(0, 8)).toEqual([]);
    }
  });

  it(`answers ${PER_FAMILY}+ random signed msgpack bodies per peer route family, per role, with coded 4xx or an acceptance, never a 5xx`, async () => {
    const rng = seededRng('fuzz-peer');
    const declared = allDeclarations();
    for (const node of nodes) {
      const t: Tally = { requests: 0, ok: 0, refused: new Map(), serverErrors: [] };
      const sent = new Set<string>();
      let k = 0;
      const next = () => declared[k++ % declared.length]!;
      const routes = node.app.routeTable.all.filter((r) => r.method === 'POST' && (r.url === MESSAGE_PATH || r.url.startsWith('/v1/peer/')));
      for (let i = 0; i < PER_FAMILY; i++) {
        const route = pick(rng, routes);
        const { bytes, from, declared: type } = randomEnvelopeBytes(rng, next);
        if (type) sent.add(type);
        // Signed by the node that plays the claimed sender role (mostly), or by another pinned node.
        const signer = identities.get(from && rng.next() < 0.8 && nodeOf[from] && nodeOf[from] !== node.name ? nodeOf[from]! : pick(rng, [...identities.keys()].filter((n) => n !== node.name)))!;
        const res = await node.app.inject({ method: 'POST', url: route.url, headers: { 'content-type': 'application/msgpack', ...signRequest(signer, 'POST', route.url, bytes) }, payload: Buffer.from(bytes) });
        record(t, `${node.role} ${route.url} signed by ${signer.name}`, res.statusCode, res.body);
      }
      console.log(`peer ${node.role}: ${summary(t)}; ${sent.size} of ${declared.length} declared types sent`);
      expect(t.requests).toBeGreaterThanOrEqual(PER_FAMILY);
      // Every declared message of every protocol went to this node (each about 16 times).
      expect(declared.map((m) => `${m.protocol}/${m.type}`).filter((x) => !sent.has(x))).toEqual([]);
      expect(t.serverErrors.slice(0, 8)).toEqual([]);
    }
  });
});
