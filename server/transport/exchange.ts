/**
 * Signed request/reply exchanges outside the job inbox (online scoring, monitoring events, the
 * bank's copy of its authorisations), the bank's side: one client for all three. The request passes
 * this node's gate (declared type and fields, this node the job's guest, the addressed node its
 * host) before it is encoded and signed; both messages are audited (group commit); the reply must
 * be the exchange's declared reply, for the same job, from the node that plays its sender's role.
 */
import { ERRORS, IndomainError, type ErrorCode } from '../../engine/errors.ts';
import { decodeMessage, encodeMessage } from '../../protocols/codec.ts';
import { messageSpec, validateBody, type Envelope } from '../../protocols/message.ts';
import { HEADER, REPLY_SIGNATURE, sha256Hex as sha256, signRequest, verifyReply, type Identity } from '../signing.ts';
import type { NodeStore } from '../store/node-store.ts';
import { PEER_GRANTS_PATH, PEER_MONITOR_PATH, PEER_SCORE_PATH } from './egress.ts';
import type { Gate } from './gate.ts';
import type { HttpClient } from './http-client.ts';
import type { Peer } from './peer.ts';
import '../messages.ts';

export interface Exchange {
  readonly protocol: string;
  readonly request: string;
  readonly reply: string;
  readonly path: string;
}

export const SCORE_EXCHANGE: Exchange = { protocol: 'score', request: 'PartialScoreRequest', reply: 'PartialScores', path: PEER_SCORE_PATH };
export const MONITOR_EXCHANGE: Exchange = { protocol: 'monitor', request: 'EventsRequest', reply: 'Events', path: PEER_MONITOR_PATH };
export const GRANTS_EXCHANGE: Exchange = { protocol: 'authz', request: 'GrantsRequest', reply: 'Grants', path: PEER_GRANTS_PATH };

/**
 * The one envelope check of an exchange: the expected protocol and type with its declared fields,
 * for the expected job. Refused with SRV_BAD_REQUEST naming the field, never a value.
 */
export function checkEnvelope(env: Envelope, want: { readonly protocol: string; readonly type: string; readonly job?: string }): void {
  if (env.protocol !== want.protocol || env.type !== want.type) throw new IndomainError('SRV_BAD_REQUEST', `expected ${want.protocol}/${want.type}`, { field: 'type' });
  validateBody(messageSpec(env.protocol, env.type), env.body, 'SRV_BAD_REQUEST');
  if (want.job !== undefined && env.job !== want.job) throw new IndomainError('SRV_BAD_REQUEST', 'the envelope is for another job', { field: 'job' });
}

/** A peer's coded refusal, as this node raises it: a code of the catalogue, or SRV_PEER_UNREACHABLE. */
export function peerError(peer: string, status: number, body: Buffer): IndomainError {
  let j: { code?: unknown; message?: unknown } = {};
  try {
    j = JSON.parse(body.toString('utf8')) as typeof j;
  } catch {
    /* not JSON */
  }
  // A peer's code is data: only a code of this node's catalogue is raised as such.
  const code: ErrorCode = typeof j.code === 'string' && Object.hasOwn(ERRORS, j.code) ? (j.code as ErrorCode) : 'SRV_PEER_UNREACHABLE';
  return new IndomainError(code, `${peer}: ${typeof j.message === 'string' ? j.message : `HTTP ${status}`}`);
}

export interface ExchangeOptions {
  /** Extra fields of the `message-sent` record (the enterprises named, the purpose). */
  readonly sent: Record<string, unknown>;
  /** Extra fields of the `message-received` record, from the reply. */
  readonly received?: (reply: Envelope) => Record<string, unknown>;
  /** Post before the `message-sent` record is committed (committed before the call returns): the online path. */
  readonly overlapAudit?: boolean;
}

export class SignedClient {
  constructor(
    private readonly o: {
      readonly store: NodeStore;
      readonly identity: Identity;
      readonly gate: Gate;
      readonly http: HttpClient;
      /** TEST ONLY (tests/attacks/exchange-reply-forgery.test.ts): take a reply without checking the peer's signature on it (the old handling). */
      readonly acceptUnsignedReplies?: boolean;
    },
  ) {}

  /** Send `request` to `peer` on the exchange's path; the checked reply. */
  async exchange(peer: Peer, x: Exchange, request: Envelope, opts: ExchangeOptions): Promise<Envelope> {
    const { store, gate } = this.o;
    gate.check(request, peer.name);
    const body = encodeMessage(request);
    const headers: Record<string, string> = { ...signRequest(this.o.identity, 'POST', x.path, body), 'content-type': 'application/msgpack' };
    const job = request.job;
    const key = `${job}|${x.protocol}|${sha256(body).slice(0, 16)}`;
    const privacy = messageSpec(x.protocol, x.request).privacy;
    const sent = store.later(() => store.audit.append('message-sent', job, { peer: peer.name, key, protocol: x.protocol, type: x.request, round: 0, privacy, bytes: body.length, sha256: sha256(body), ...opts.sent }));
    if (!opts.overlapAudit) await sent;
    let res;
    try {
      res = await this.o.http.post(peer.url + x.path, headers, body);
    } catch (e) {
      await sent;
      throw new IndomainError('SRV_PEER_UNREACHABLE', `${peer.name}: ${(e as Error).message}`);
    }
    if (res.status !== 200) {
      await sent;
      throw peerError(peer.name, res.status, res.body);
    }
    const bytes = new Uint8Array(res.body.buffer, res.body.byteOffset, res.body.byteLength);
    // The reply must be signed by the peer addressed, for this route and this request (its nonce):
    // a reply altered on the way or taken from another request is refused before it is decoded.
    const sig = res.headers?.[REPLY_SIGNATURE];
    if (!this.o.acceptUnsignedReplies && !verifyReply(peer.publicKey, peer.name, x.path, headers[HEADER.nonce]!, Array.isArray(sig) ? sig[0] : sig, bytes)) {
      await sent;
      throw new IndomainError('SRV_BAD_SIGNATURE', `${peer.name}: the reply on ${x.path} is not signed by it for this request`);
    }
    const reply = decodeMessage(bytes);
    checkEnvelope(reply, { protocol: x.protocol, type: x.reply, job });
    gate.admit(reply, peer.name);
    const replyPrivacy = messageSpec(x.protocol, x.reply).privacy;
    const extra = opts.received?.(reply) ?? {};
    await Promise.all([
      sent,
      store.later(() => store.audit.append('message-received', job, { peer: peer.name, key: `${key}|reply`, protocol: x.protocol, type: x.reply, round: 0, privacy: replyPrivacy, bytes: bytes.length, sha256: sha256(bytes), ...extra })),
    ]);
    return reply;
  }
}
