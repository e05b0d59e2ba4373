/**
 * The signed node-to-node endpoints, one encapsulated plugin: job messages (POST /v1/messages) and,
 * on the platform, the signed exchanges a bank starts (scoring, monitoring events, its copy of its
 * authorisations). Every route here takes an application/msgpack body, and this plugin's own
 * unconditional onRequest hook verifies the request's signature over its declared body digest
 * (server/signing.ts: pinned peer, method and path bound, fresh, not replayed) before the body is
 * read, and its preValidation hook the body against that digest, before any handler or schema sees it.
 * The verifier (with the peers' imported keys) and the platform's answerers are decorated here.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { IndomainError } from '../../engine/errors.ts';
import { ChainHeads } from '../audit-heads.ts';
import { PURPOSES, SCORING_PURPOSES } from '../authz.ts';
import { PlatformGrants } from '../grants.ts';
import { PlatformMonitor } from '../monitoring/platform-monitor.ts';
import { PlatformScorer } from '../scoring/platform-scorer.ts';
import { HEADER, REPLY_SIGNATURE as REPLY_SIGNATURE_HEADER, RequestVerifier, signReply } from '../signing.ts';
import { MESSAGE_PATH, PEER_GRANTS_PATH, PEER_HEAD_PATH, PEER_MONITOR_PATH, PEER_SCORE_LR_PATH, PEER_SCORE_PATH } from '../transport/egress.ts';
import { errors } from './schemas.ts';

declare module 'fastify' {
  interface FastifyInstance {
    verifier: RequestVerifier;
    /** This node's chain-head exchanges with its peers (server/audit-heads.ts). */
    chainHeads: ChainHeads;
  }
  interface FastifyRequest {
    /** The verified signer of a peer request. */
    sender: string;
  }
}

/** A msgpack request body: bytes, checked by the route's own validator (JSON Schema cannot type a Buffer). */
export const MsgpackBody = Type.Unsafe<Uint8Array>({ type: 'string', format: 'binary', description: 'a msgpack envelope (protocols/codec.ts), signed in the x-indomain-* headers' });

/** The route validator of the peer routes: the body must be bytes; nothing else is declared. */
const bytesOnly = ({ httpPart }: { httpPart?: string }) =>
  httpPart === 'body'
    ? (data: unknown) => (data instanceof Uint8Array ? { value: data } : { error: new IndomainError('SRV_MALFORMED_BODY', 'expected an application/msgpack body') })
    : (data: unknown) => ({ value: data });

const signedHeaders = Type.Object({
  'x-indomain-node': Type.Optional(Type.String()),
  'x-indomain-timestamp': Type.Optional(Type.String()),
  'x-indomain-nonce': Type.Optional(Type.String()),
  'x-indomain-signature': Type.Optional(Type.String()),
});

export const peerPlugin: FastifyPluginAsyncTypebox = async (app) => {
  const { node } = app;
  const keys = new Map([...node.peers.values()].map((p) => [p.name, p.publicKey]));
  app.decorate('verifier', new RequestVerifier(keys, node.store));
  app.decorateRequest('sender', '');
  if (!node.unsafe.peerBodyFirst) {
    // Only msgpack here: a JSON or text body is refused (415 → SRV_BAD_REQUEST) before it is read,
    // never parsed into objects for a caller whose signature has not been checked yet.
    app.removeAllContentTypeParsers();
    // Before the body is read: the signature headers present, a pinned sender, a fresh timestamp,
    // and the signature over the declared body digest (unless the test-only switch restores the
    // old order, headers only); only then is the body buffered, and checked against the digest.
    if (node.unsafe.peerSignatureAfterBody) app.addHook('onRequest', async (req: FastifyRequest) => app.verifier.precheck(req.headers));
    else app.addHook('onRequest', async (req: FastifyRequest) => void (req.sender = app.verifier.verifyHead('POST', req.routeOptions.url ?? '', req.headers)));
  }
  app.addContentTypeParser('application/msgpack', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  // Unconditional: every route of this plugin, whatever the request target looked like.
  app.addHook('preValidation', async (req: FastifyRequest) => {
    const body = req.body;
    if (!(body instanceof Uint8Array)) throw new IndomainError('SRV_MALFORMED_BODY', 'expected an application/msgpack body');
    if (req.sender) app.verifier.verifyBody(req.headers, body);
    else req.sender = app.verifier.verify('POST', req.routeOptions.url ?? '', req.headers as Record<string, string>, body);
  });
  const msgpack = { body: MsgpackBody, headers: signedHeaders, consumes: ['application/msgpack'] };

  app.post(
    MESSAGE_PATH,
    {
      validatorCompiler: bytesOnly,
      schema: { summary: 'A signed protocol message (msgpack envelope) from a pinned peer', ...msgpack, response: { 202: Type.Object({ accepted: Type.Boolean(), duplicate: Type.Boolean() }), ...errors } },
    },
    async (req, reply) => {
      const r = node.runtime.accept(req.sender, req.body);
      return reply.status(202).send({ accepted: true, duplicate: r.duplicate });
    },
  );

  // Chain heads, between any two pinned nodes: the sender's head in, this node's head out.
  const heads = new ChainHeads({ name: node.identity.name, store: node.store, peers: node.peers, gate: node.runtime.gate, client: node.client, ...(node.headIntervalMs !== undefined ? { intervalMs: node.headIntervalMs } : {}) });
  app.decorate('chainHeads', heads);
  app.addHook('onReady', async () => heads.start());
  app.addHook('onClose', async () => heads.stop());
  const reply200 = Type.Unsafe<Uint8Array>({ type: 'string', format: 'binary', description: 'the msgpack reply envelope' });
  app.post(PEER_HEAD_PATH, { validatorCompiler: bytesOnly, schema: { summary: "A pinned node's audit chain head; the reply is this node's", ...msgpack, response: { 200: { description: 'the msgpack reply envelope', content: { 'application/msgpack': { schema: reply200 } } }, ...errors } } }, async (req, reply) => {
    const out = await heads.answer(req.sender, req.body);
    const nonce = String(req.headers[HEADER.nonce]);
    return reply.status(200).header('content-type', 'application/msgpack').header(REPLY_SIGNATURE_HEADER, signReply(node.identity, PEER_HEAD_PATH, nonce, out)).send(Buffer.from(out.buffer, out.byteOffset, out.byteLength));
  });

  if (!node.authz) return;
  const gate = node.runtime.gate;
  const purposes = node.unsafe.scoreForAnyPurpose ? PURPOSES : SCORING_PURPOSES;
  const answerers = {
    [PEER_SCORE_PATH]: { summary: "A bank's signed request for the platform's partial scores of authorised enterprises", a: new PlatformScorer(node.store, node.authz, gate, node.limits, 'scorecard', purposes) },
    [PEER_SCORE_LR_PATH]: { summary: "A bank's signed request for the platform's partial logits of authorised enterprises under an lr model", a: new PlatformScorer(node.store, node.authz, gate, node.limits, 'lr', purposes) },
    [PEER_MONITOR_PATH]: { summary: "A bank's signed request for new public credit events on its authorised monitored enterprises", a: new PlatformMonitor(node.store, node.authz, gate, node.limits) },
    [PEER_GRANTS_PATH]: { summary: "A bank's signed request for its own authorisation records (its copy, so that it names only authorised enterprises)", a: new PlatformGrants(node.store, node.authz, gate, node.limits) },
  };
  for (const [path, { summary, a }] of Object.entries(answerers)) {
    app.post(path, { validatorCompiler: bytesOnly, schema: { summary, ...msgpack, response: { 200: { description: 'the msgpack reply envelope', content: { 'application/msgpack': { schema: reply200 } } }, ...errors } } }, async (req, reply) => {
      const out = await a.answer(req.sender, req.body);
      // Signed for this route and this request (the nonce verified above): server/signing.ts signReply.
      const nonce = String(req.headers[HEADER.nonce]);
      return reply.status(200).header('content-type', 'application/msgpack').header(REPLY_SIGNATURE_HEADER, signReply(node.identity, path, nonce, out)).send(Buffer.from(out.buffer, out.byteOffset, out.byteLength));
    });
  }
};
