/**
 * Attack: an adversary on the network path between a bank and the platform (plain HTTP, or a
 * proxy that terminates TLS) answers the bank's signed exchange requests itself. The requests
 * are signed, but the replies were not: the bank took whatever came back with status 200 and the
 * declared shape. Two forgeries against the grants exchange (the bank's copy of its own
 * authorisations, from which it decides which enterprises it may name for scoring):
 *   (1) altered: the real reply with an extra enterprise the bank holds no authorisation for;
 *   (2) replayed: after the platform revoked the bank's authorisation, the reply captured
 *       before the revocation, served for the fresh request.
 * Both are made from real platform output (the platform node's route, by inject). Defended: the
 * platform signs each reply over route, signer, the request's nonce and the body; the bank
 * refuses both forgeries (SRV_BAD_SIGNATURE) and still takes the honest replies. Undefended
 * (`acceptUnsignedReplies`, a constructor switch no request or spec reaches): both are taken.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isIndomainError } from '../../engine/errors.ts';
import { decodeMessage, encodeMessage } from '../../protocols/codec.ts';
import type { Envelope } from '../../protocols/message.ts';
import { GRANTS_EXCHANGE, SignedClient } from '../../server/transport/exchange.ts';
import type { HttpClient, HttpReply } from '../../server/transport/http-client.ts';
import { INJECT_TOKEN, injectNodes, type InjectNode } from '../helpers/inject-nodes.ts';

const MODEL = 'model-reply-forgery';
const SPEC = { id: MODEL, pipeline: 'scorecard', coordinator: 'coordinator', guest: { node: 'bank-1', dataset: 'book' }, host: { node: 'platform', dataset: 'public' }, seed: '42', testFraction: 0.2 };
const AUTHORISED = '91350100M000100Y43';
const FORGED = '91350100M000200Y40';

type Tamper = (real: HttpReply) => HttpReply;

/** The path between the bank and the platform: the platform's real route, and what the adversary does to its reply. */
function path(platform: InjectNode, tamper: { f: Tamper | undefined }): HttpClient {
  return {
    post: async (url: string, headers: Record<string, string>, body: Uint8Array | string) => {
      const r = await platform.app.inject({ method: 'POST', url: new URL(url).pathname, headers, payload: Buffer.from(body as Uint8Array) });
      const real: HttpReply = { status: r.statusCode, body: r.rawPayload, headers: r.headers as HttpReply['headers'] };
      return tamper.f ? tamper.f(real) : real;
    },
    close: () => {},
  } as unknown as HttpClient;
}

/** What the bank takes from a Grants reply: each enterprise with its state (revoked or not). */
const ids = (env: Envelope) => (env.body.ids as string[]).map((id, i) => `${id}:${(env.body.revokedAt as Float64Array)[i] === 0 ? 'valid' : 'revoked'}`);
const grantsRequest = (): Envelope => ({ job: MODEL, protocol: 'authz', type: 'GrantsRequest', round: 0, from: 'guest', to: 'host', body: { request: randomBytes(12).toString('hex'), model: MODEL, purpose: 'pre-loan' } });

interface Outcome {
  honest: string[][];
  /** The ids the bank took from each forged reply, or the code it refused it with. */
  altered: string[] | string;
  replayed: string[] | string;
}

async function run(acceptUnsignedReplies: boolean): Promise<Outcome> {
  const { nodes, close } = await injectNodes();
  try {
    const platform = nodes.find((n) => n.name === 'platform')!;
    const bank = nodes.find((n) => n.name === 'bank-1')!;
    for (const n of [platform, bank]) n.app.node.store.putJob(MODEL, JSON.stringify(SPEC));
    const admin = { 'x-admin-token': INJECT_TOKEN };
    const g = await platform.app.inject({ method: 'POST', url: '/v1/admin/authorisations', headers: admin, payload: { uscc: AUTHORISED, bank: 'bank-1', purpose: 'pre-loan', valid_from: '2020-01-01', valid_to: '2099-01-01', source_ref: 'signed form 1' } });
    expect(g.statusCode).toBe(201);

    const tamper: { f: Tamper | undefined } = { f: undefined };
    const n = bank.app.node;
    const client = new SignedClient({ store: n.store, identity: n.identity, gate: n.runtime.gate, http: path(platform, tamper), acceptUnsignedReplies });
    const peer = n.peers.get('platform')!;
    const ask = async () => {
      try {
        return ids(await client.exchange(peer, GRANTS_EXCHANGE, grantsRequest(), { sent: {} }));
      } catch (e) {
        if (isIndomainError(e)) return e.code;
        throw e;
      }
    };

    const honest: string[][] = [];
    // An honest exchange, its reply captured by the adversary on the way.
    let captured: HttpReply | undefined;
    tamper.f = (real) => ((captured = real), real);
    const first = await ask();
    expect(Array.isArray(first)).toBe(true);
    honest.push(first as string[]);

    // (1) altered: the real reply with one more enterprise.
    tamper.f = (real) => {
      const env = decodeMessage(new Uint8Array(real.body));
      const b = env.body as { ids: string[]; validFrom: Float64Array; validTo: Float64Array; revokedAt: Float64Array };
      const forged = { ...env, body: { ids: [...b.ids, FORGED], validFrom: Float64Array.from([...b.validFrom, b.validFrom[0]!]), validTo: Float64Array.from([...b.validTo, b.validTo[0]!]), revokedAt: Float64Array.from([...b.revokedAt, 0]) } };
      return { ...real, body: Buffer.from(encodeMessage(forged)) };
    };
    const altered = await ask();

    // (2) the platform revokes; the adversary serves the reply captured before the revocation.
    const r = await platform.app.inject({ method: 'POST', url: '/v1/admin/authorisations/revoke', headers: admin, payload: { uscc: AUTHORISED, bank: 'bank-1', purpose: 'pre-loan' } });
    expect(r.json()).toEqual({ revoked: 1 });
    tamper.f = () => captured!;
    const replayed = await ask();

    // The honest reply after the revocation passes, the record revoked.
    tamper.f = undefined;
    const after = await ask();
    expect(Array.isArray(after)).toBe(true);
    honest.push(after as string[]);
    return { honest, altered, replayed };
  } finally {
    await close();
  }
}

describe('signed exchanges: a reply forged or replayed on the way is refused', () => {
  let on: Outcome, off: Outcome;
  beforeAll(async () => {
    on = await run(false);
    off = await run(true);
  }, 60_000);
  afterAll(() => undefined);

  it('defended: both forgeries refused, honest replies taken; undefended: both forgeries taken', () => {
    const taken = (o: Outcome) => [o.altered, o.replayed].filter((x) => Array.isArray(x)).length;
    console.log(`exchange-reply-forgery: defence on: ${taken(on)}/2 forged replies taken (altered → ${JSON.stringify(on.altered)}, replayed → ${JSON.stringify(on.replayed)}), honest ${on.honest.length}/2 taken`);
    console.log(`exchange-reply-forgery: defence off: ${taken(off)}/2 forged replies taken (altered → ${JSON.stringify(off.altered)}, replayed → ${JSON.stringify(off.replayed)}), honest ${off.honest.length}/2 taken`);
    expect(on.altered).toBe('SRV_BAD_SIGNATURE');
    expect(on.replayed).toBe('SRV_BAD_SIGNATURE');
    expect(on.honest).toEqual([[`${AUTHORISED}:valid`], [`${AUTHORISED}:revoked`]]);
    expect(off.altered).toEqual([`${AUTHORISED}:valid`, `${FORGED}:valid`]);
    // The revoked authorisation, taken as valid.
    expect(off.replayed).toEqual([`${AUTHORISED}:valid`]);
    expect(off.honest).toEqual(on.honest);
  });
});
