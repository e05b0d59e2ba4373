/**
 * Signed request/reply exchanges outside the job inbox (online scoring, monitoring events, the
 * bank's copy of its authorisations), the bank's side: one client for all three. The request passes
 * this node's gate (declared type and fields, this node the job's guest, the addressed node its
 * host) before it is encoded and signed; both messages are audited (group commit); the reply must
 * be the exchange's declared reply, for the same job, from the node that plays its sender's role.
 *
 * Write-ahead: the `message-sent` record is committed before the request leaves, with an
 * open-exchange mark in the same transaction. Whatever ends the exchange without a valid reply (the
 * peer down or refusing, a reply that fails its checks) is recorded as `delivery-failed` with its
 * code, and the mark cleared with it or with the reply's record; a node that stopped in between
 * closes its open exchanges as `delivery-failed` when it starts again ({@link closeInterrupted}).
 * So every request a node sent has, in its own chain, a reply or a recorded failure: an outage
 * leaves an explained record, not a gap.
 */
import { ERRORS, IndomainError, isIndomainError, type ErrorCode } from '../../engine/errors.ts';
import { decodeMessage, encodeMessage } from '../../protocols/codec.ts';
import { messageSpec, validateBody, type Envelope } from '../../protocols/message.ts';
import { HEADER, REPLY_SIGNATURE, sha256Hex as sha256, signRequest, verifyReply, type Identity } from '../signing.ts';
import type { NodeStore } from '../store/node-store.ts';
import { PEER_GRANTS_PATH, PEER_HEAD_PATH, PEER_MONITOR_PATH, PEER_SCORE_LR_PATH, PEER_SCORE_PATH } from './egress.ts';
import type { Gate } from './gate.ts';
import type { HttpClient } from './http-client.ts';
import type { Peer } from './peer.ts';
import type { KeyObject } from 'node:crypto';
import { publicKeyObject } from '../ed25519.ts';
import '../messages.ts';

export interface Exchange {
  readonly protocol: string;
  readonly request: string;
  readonly reply: string;
  readonly path: string;
}

export const SCORE_EXCHANGE: Exchange = { protocol: 'score', request: 'PartialScoreRequest', reply: 'PartialScores', path: PEER_SCORE_PATH };
export const LR_SCORE_EXCHANGE: Exchange = { protocol: 'score-lr', request: 'PartialLogitRequest', reply: 'PartialLogits', path: PEER_SCORE_LR_PATH };
export const MONITOR_EXCHANGE: Exchange = { protocol: 'monitor', request: 'EventsRequest', reply: 'Events', path: PEER_MONITOR_PATH };
export const GRANTS_EXCHANGE: Exchange = { protocol: 'authz', request: 'GrantsRequest', reply: 'Grants', path: PEER_GRANTS_PATH };
export const HEAD_EXCHANGE: Exchange = { protocol: 'audit', request: 'ChainHead', reply: 'ChainHead', path: PEER_HEAD_PATH };

/** The `meta` rows that mark exchanges sent and not yet answered or failed. */
const OPEN = 'open-exchange:';

/**
 * On start: every exchange this node sent and never saw end (it stopped in between) is recorded as
 * `delivery-failed`, so its request and any reply the peer recorded are explained. Returns how many.
 */
export function closeInterrupted(store: NodeStore): number {
  store.flushNow();
  const rows = store.db.prepare("SELECT key, value FROM meta WHERE key >= ? AND key < ? ORDER BY key").all(OPEN, OPEN.slice(0, -1) + ';') as { key: string; value: Buffer | string }[];
  if (rows.length === 0) return 0;
  store.tx(() => {
    for (const r of rows) {
      const o = JSON.parse(String(r.value)) as { job: string; peer: string };
      store.audit.append('delivery-failed', o.job, { peer: o.peer, key: r.key.slice(OPEN.length), code: 'SRV_PEER_UNREACHABLE', reason: 'this node stopped before the exchange ended' });
      store.db.prepare('DELETE FROM meta WHERE key = ?').run(r.key);
    }
  });
  return rows.length;
}

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
}

/**
 * How long a bank waits for the platform's reply to a signed exchange. Online scoring coalesces
 * its requests behind one exchange in flight (server/scoring/platform-parts.ts): without a bound,
 * a platform (or anything on the path) that took a request and never answered stalled every later
 * score of that model for good. A reply for 10,000 ids takes well under a second here; the first
 * one of a model also indexes the platform's dataset.
 */
export const EXCHANGE_REPLY_MS = 60_000;

export class SignedClient {
  constructor(
    private readonly o: {
      readonly store: NodeStore;
      readonly identity: Identity;
      readonly gate: Gate;
      readonly http: HttpClient;
      /** TEST ONLY (tests/attacks/exchange-reply-forgery.test.ts): take a reply without checking the peer's signature on it (the old handling). */
      readonly acceptUnsignedReplies?: boolean;
      /**
       * A reply not in this long after the request is SRV_PEER_UNREACHABLE (default
       * {@link EXCHANGE_REPLY_MS}; 0, TEST ONLY for tests/attacks/exchange-hang.test.ts: wait for ever).
       */
      readonly replyMs?: number;
    },
  ) {}

  /** Each peer's public key, imported once (keyed by the raw key, so a changed pin is a new entry). */
  private readonly peerKeys = new Map<string, KeyObject | undefined>();

  private keyOf(peer: Peer): KeyObject | undefined {
    const id = Buffer.from(peer.publicKey).toString('base64');
    if (!this.peerKeys.has(id)) this.peerKeys.set(id, publicKeyObject(peer.publicKey));
    return this.peerKeys.get(id);
  }

  private openMark: import('better-sqlite3').Statement | undefined;
  private closeMark: import('better-sqlite3').Statement | undefined;

  /** Send `request` to `peer` on the exchange's path; the checked reply. */
  async exchange(peer: Peer, x: Exchange, request: Envelope, opts: ExchangeOptions): Promise<Envelope> {
    const { store, gate } = this.o;
    gate.check(request, peer.name);
    const body = encodeMessage(request);
    const headers: Record<string, string> = { ...signRequest(this.o.identity, 'POST', x.path, body), 'content-type': 'application/msgpack' };
    const job = request.job;
    const key = `${job}|${x.protocol}|${sha256(body).slice(0, 16)}`;
    const privacy = messageSpec(x.protocol, x.request).privacy;
    const open = OPEN + key;
    // Write-ahead: the request is on record (and marked open) before it leaves.
    this.openMark ??= store.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
    this.closeMark ??= store.db.prepare('DELETE FROM meta WHERE key = ?');
    const mark = this.openMark;
    await store.later(() => {
      store.audit.append('message-sent', job, { peer: peer.name, key, protocol: x.protocol, type: x.request, round: 0, privacy, bytes: body.length, sha256: sha256(body), ...opts.sent });
      mark.run(open, JSON.stringify({ job, peer: peer.name }));
    });
    const unmark = this.closeMark;
    const closed = () => unmark.run(open);
    try {
      let res;
      try {
        res = await this.o.http.post(peer.url + x.path, headers, body, this.o.replyMs ?? EXCHANGE_REPLY_MS);
      } catch (e) {
        throw new IndomainError('SRV_PEER_UNREACHABLE', `${peer.name}: ${(e as Error).message}`);
      }
      if (res.status !== 200) throw peerError(peer.name, res.status, res.body);
      const bytes = new Uint8Array(res.body.buffer, res.body.byteOffset, res.body.byteLength);
      // The reply must be signed by the peer addressed, for this route and this request (its nonce):
      // a reply altered on the way or taken from another request is refused before it is decoded.
      const sig = res.headers?.[REPLY_SIGNATURE];
      if (!this.o.acceptUnsignedReplies && !verifyReply(this.keyOf(peer), peer.name, x.path, headers[HEADER.nonce]!, Array.isArray(sig) ? sig[0] : sig, bytes)) {
        throw new IndomainError('SRV_BAD_SIGNATURE', `${peer.name}: the reply on ${x.path} is not signed by it for this request`);
      }
      const reply = decodeMessage(bytes);
      checkEnvelope(reply, { protocol: x.protocol, type: x.reply, job });
      gate.admit(reply, peer.name);
      const replyPrivacy = messageSpec(x.protocol, x.reply).privacy;
      const extra = opts.received?.(reply) ?? {};
      await store.later(() => {
        store.audit.append('message-received', job, { peer: peer.name, key: `${key}|reply`, protocol: x.protocol, type: x.reply, round: 0, privacy: replyPrivacy, bytes: bytes.length, sha256: sha256(bytes), ...extra });
        closed();
      });
      return reply;
    } catch (e) {
      const err = isIndomainError(e) ? e : new IndomainError('SRV_BAD_REQUEST', `${peer.name}: the reply on ${x.path} cannot be read`);
      // The failure goes on record with its code: the request is explained, not a gap.
      await store.later(() => {
        store.audit.append('delivery-failed', job, { peer: peer.name, key, code: err.code, reason: err.message });
        closed();
      });
      throw err;
    }
  }
}
