/**
 * Attack: stall a bank's online scoring of a model for good. The bank coalesces its requests for
 * the platform's part behind one signed exchange in flight per (model, purpose)
 * (server/scoring/platform-parts.ts), and its HTTP client had no bound on the wait for a reply:
 * a platform, or anything on the path (a proxy that terminates TLS), that accepts one request and
 * never answers holds that exchange open, and every later score of the model waits behind it.
 *
 * The bank's real scorer (BankLrScorer, its grants copy, PlatformParts, SignedClient, the node's
 * HttpClient) on bank-1's real store, identity and gate, an `lr` model deployed there, and a
 * "platform" on 127.0.0.1 that reads each request and never replies. Two scores at once, then a
 * third once they are over: does each settle? Defended: the signed exchange fails after its reply
 * deadline (SRV_PEER_UNREACHABLE), what waited behind it too, and the third score gets an exchange
 * of its own and fails the same way. Undefended (`replyMs: 0`, a constructor switch no request or
 * spec reaches): none settles.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { isIndomainError } from '../../engine/errors.ts';
import { BankGrants } from '../../server/grants.ts';
import { BankLrScorer } from '../../server/scoring/bank-lr-scorer.ts';
import { SignedClient } from '../../server/transport/exchange.ts';
import { HttpClient } from '../../server/transport/http-client.ts';
import { injectNodes } from '../helpers/inject-nodes.ts';

const MODEL = 'lr-hang';
const SPEC = { id: MODEL, pipeline: 'lr', coordinator: 'coordinator', guest: { node: 'bank-1', dataset: 'book' }, host: { node: 'platform', dataset: 'public' }, seed: '42', testFraction: 0.2 };
const ID = '91350100M000100Y43';
const REPLY_MS = 300;
const PATIENCE_MS = 3_000;

let silent: Server | undefined;
afterAll(async () => {
  silent?.closeAllConnections();
  await new Promise((r) => silent?.close(r));
});

/** A peer that reads every request to the end and never answers. */
async function silentPlatform(): Promise<string> {
  silent = createServer((req) => req.resume());
  await new Promise<void>((r) => silent!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
}

/** Within PATIENCE_MS each: the code each of two scores at once, then a third, ended with, or 'pending'. */
async function twoScores(replyMs: number, url: string): Promise<string[]> {
  const { nodes, close } = await injectNodes();
  const http = new HttpClient();
  try {
    const n = nodes.find((x) => x.name === 'bank-1')!.app.node;
    n.store.putJob(MODEL, JSON.stringify(SPEC));
    n.store.putModel(MODEL, 'guest', { weights: [-1, 0.5], preparation: { mean: [0], indicators: [], centre: [0], scale: [1], names: ['x'] } });
    const peers = new Map(n.peers);
    peers.set('platform', { ...n.peers.get('platform')!, url });
    const client = new SignedClient({ store: n.store, identity: n.identity, gate: n.runtime.gate, http, replyMs });
    const scorer = new BankLrScorer(n.store, peers, client, new BankGrants(n.identity, client, true), n.limits);
    const outcome = (p: Promise<unknown>) =>
      Promise.race([
        p.then(
          () => 'scored',
          (e: unknown) => (isIndomainError(e) ? e.code : String(e)),
        ),
        new Promise<string>((r) => setTimeout(() => r('pending'), PATIENCE_MS)),
      ]);
    const first = outcome(scorer.score(MODEL, ID, { x: 1 }, 'pre-loan'));
    const second = outcome(scorer.score(MODEL, ID, { x: 2 }, 'pre-loan'));
    const both = [await first, await second];
    return [...both, await outcome(scorer.score(MODEL, ID, { x: 3 }, 'pre-loan'))];
  } finally {
    http.close();
    silent?.closeAllConnections();
    await close();
  }
}

describe('attack: a platform that never answers stalls the bank’s scoring of a model', () => {
  it('on: each score fails after the reply deadline; off: every one waits for ever', async () => {
    const url = await silentPlatform();
    const on = await twoScores(REPLY_MS, url);
    const off = await twoScores(0, url);
    console.log(`three scores against a silent platform, ${PATIENCE_MS} ms each: on ${on.join(', ')}; off ${off.join(', ')}`);
    expect(on).toEqual(['SRV_PEER_UNREACHABLE', 'SRV_PEER_UNREACHABLE', 'SRV_PEER_UNREACHABLE']);
    expect(off).toEqual(['pending', 'pending', 'pending']);
  }, 30_000);
});
