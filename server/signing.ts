/**
 * Node identity and request signing.
 *
 * Every node has an Ed25519 key pair (server/ed25519.ts) and pins its peers' public keys. Every
 * request from one node to another carries four headers, and the signature covers
 *   "indomain-v1\n" METHOD "\n" PATH "\n" SENDER "\n" TIMESTAMP "\n" NONCE "\n" hex(SHA-256(body))
 * so that method, path, body, time and nonce are all bound. The digest also travels in its own
 * header, so the receiver checks the signature before it reads the body, then the body against the
 * digest. The receiver refuses, each with its
 * coded error: no signature headers, an unknown sender, a signature that does not verify, a
 * timestamp more than five minutes from its clock, and a nonce it has seen (nonces are kept in the
 * node's database for the freshness window, so a restart does not reopen replays).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { generateSecretKey, publicKeyObject, publicKeyOf, signer, verify as verifyEd25519, verifyWith } from './ed25519.ts';
import { IndomainError } from '../engine/errors.ts';

export const HEADER = {
  node: 'x-indomain-node',
  timestamp: 'x-indomain-timestamp',
  nonce: 'x-indomain-nonce',
  signature: 'x-indomain-signature',
  /** hex SHA-256 of the body, the one in the signed text: the signature is checked before the body is read. */
  digest: 'x-indomain-digest',
} as const;

/** Requests older or newer than this are stale. */
export const MAX_SKEW_MS = 5 * 60 * 1000;

export interface Identity {
  readonly name: string;
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
  /** Ed25519 signature with this identity's key (the imported key kept with the identity). */
  readonly sign: (message: Uint8Array) => Uint8Array;
}

export function newIdentity(name: string): Identity {
  return identityFromSecret(name, generateSecretKey());
}

export function identityFromSecret(name: string, secretKey: Uint8Array): Identity {
  return { name, secretKey, publicKey: publicKeyOf(secretKey), sign: signer(secretKey) };
}

export function sha256Hex(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

function canonical(method: string, path: string, sender: string, timestamp: string, nonce: string, digest: string): Uint8Array {
  return new TextEncoder().encode(['indomain-v1', method.toUpperCase(), path, sender, timestamp, nonce, digest].join('\n'));
}

export function signRequest(id: Identity, method: string, path: string, body: Uint8Array, now = Date.now(), nonce = randomBytes(16).toString('hex')): Record<string, string> {
  const timestamp = String(now);
  const digest = sha256Hex(body);
  const sig = id.sign(canonical(method, path, id.name, timestamp, nonce, digest));
  return {
    [HEADER.node]: id.name,
    [HEADER.timestamp]: timestamp,
    [HEADER.nonce]: nonce,
    [HEADER.signature]: Buffer.from(sig).toString('base64'),
    [HEADER.digest]: digest,
  };
}

/**
 * The header of a signed exchange's reply: the answering node's signature over
 *   "indomain-v1-reply\n" PATH "\n" SIGNER "\n" REQUEST-NONCE "\n" hex(SHA-256(reply body))
 * so that a reply is bound to the node that gave it, the route, and the one request it answers (its
 * nonce): a reply altered on the way, or another request's reply, does not verify.
 */
export const REPLY_SIGNATURE = 'x-indomain-reply-signature';

function replyCanonical(path: string, signerName: string, requestNonce: string, body: Uint8Array): Uint8Array {
  return new TextEncoder().encode(['indomain-v1-reply', path, signerName, requestNonce, sha256Hex(body)].join('\n'));
}

/** The base64 signature of a reply to the request that carried `requestNonce`. */
export function signReply(id: Identity, path: string, requestNonce: string, body: Uint8Array): string {
  return Buffer.from(id.sign(replyCanonical(path, id.name, requestNonce, body))).toString('base64');
}

/**
 * Whether `signature` is `signerName`'s over this reply to the request with `requestNonce`; `key`
 * is the signer's imported public key (a raw key, imported on every call, costs more than the
 * verification itself: callers on the online path keep the KeyObject).
 */
export function verifyReply(key: Uint8Array | KeyObject | undefined, signerName: string, path: string, requestNonce: string, signature: string | undefined, body: Uint8Array): boolean {
  if (!signature || key === undefined) return false;
  const message = replyCanonical(path, signerName, requestNonce, body);
  const sig = Buffer.from(signature, 'base64');
  return key instanceof Uint8Array ? verifyEd25519(sig, message, key) : verifyWith(sig, message, key);
}

/** Remembers nonces for the freshness window; `claim` returns false for a nonce already seen. */
export interface NonceStore {
  claim(sender: string, nonce: string, timestamp: number): boolean;
}

export class RequestVerifier {
  /** The pinned peers' keys, imported once. */
  private readonly keys: ReadonlyMap<string, KeyObject | undefined>;

  constructor(
    peers: ReadonlyMap<string, Uint8Array>,
    private readonly nonces: NonceStore,
    private readonly clock: () => number = Date.now,
  ) {
    this.keys = new Map([...peers].map(([name, pub]) => [name, publicKeyObject(pub)]));
  }

  /**
   * What can be checked before the body is read, each with the code `verify` gives it: the four
   * headers present, a pinned sender, a fresh timestamp, a well-formed nonce. A request that fails
   * here is refused before its body is buffered or parsed; `verify` still checks all of it.
   */
  precheck(headers: Record<string, string | string[] | undefined>): void {
    const h = (k: string) => {
      const v = headers[k];
      return Array.isArray(v) ? v[0] : v;
    };
    const missing = [HEADER.node, HEADER.timestamp, HEADER.nonce, HEADER.signature].filter((k) => !h(k));
    if (missing.length > 0) throw new IndomainError('SRV_UNSIGNED', `missing ${missing.join(', ')}`);
    const sender = h(HEADER.node)!;
    if (!this.keys.has(sender)) throw new IndomainError('SRV_UNKNOWN_PEER', `"${sender.slice(0, 64)}"`);
    const ts = Number(h(HEADER.timestamp));
    if (!Number.isSafeInteger(ts) || Math.abs(this.clock() - ts) > MAX_SKEW_MS) throw new IndomainError('SRV_STALE_REQUEST', 'the timestamp is outside the freshness window');
    if (!/^[0-9a-f]{16,64}$/.test(h(HEADER.nonce)!)) throw new IndomainError('SRV_UNSIGNED', 'nonce must be 16–64 hex characters');
  }

  /**
   * Everything but the body, before the body is read: the precheck, then the signature over the
   * declared digest (`x-indomain-digest`) and the nonce. A forger using a pinned peer's name is
   * refused here, so no unverified body is ever buffered. The body must then have that digest
   * ({@link verifyBody}). Returns the verified sender.
   */
  verifyHead(method: string, path: string, headers: Record<string, string | string[] | undefined>): string {
    this.precheck(headers);
    const h = (k: string) => {
      const v = headers[k];
      return Array.isArray(v) ? v[0]! : v!;
    };
    const digest = h(HEADER.digest);
    if (!digest || !/^[0-9a-f]{64}$/.test(digest)) throw new IndomainError('SRV_UNSIGNED', `missing or malformed ${HEADER.digest}`);
    return this.check(method, path, h(HEADER.node), h(HEADER.timestamp), h(HEADER.nonce), h(HEADER.signature), digest);
  }

  /** The body of a request whose head {@link verifyHead} verified: it must have the signed digest. */
  verifyBody(headers: Record<string, string | string[] | undefined>, body: Uint8Array): void {
    const v = headers[HEADER.digest];
    if ((Array.isArray(v) ? v[0] : v) !== sha256Hex(body)) throw new IndomainError('SRV_BAD_SIGNATURE', 'the body does not have the signed digest');
  }

  private check(method: string, path: string, sender: string, timestamp: string, nonce: string, signature: string, digest: string): string {
    if (!this.keys.has(sender)) throw new IndomainError('SRV_UNKNOWN_PEER', `"${sender.slice(0, 64)}"`);
    const ok = verifyWith(Buffer.from(signature, 'base64'), canonical(method, path, sender, timestamp, nonce, digest), this.keys.get(sender));
    if (!ok) throw new IndomainError('SRV_BAD_SIGNATURE', `from "${sender}" on ${method} ${path}`);
    const ts = Number(timestamp);
    if (!Number.isSafeInteger(ts) || Math.abs(this.clock() - ts) > MAX_SKEW_MS) {
      throw new IndomainError('SRV_STALE_REQUEST', `timestamp ${timestamp}, now ${this.clock()}`);
    }
    if (!/^[0-9a-f]{16,64}$/.test(nonce)) throw new IndomainError('SRV_UNSIGNED', 'nonce must be 16–64 hex characters');
    if (!this.nonces.claim(sender, nonce, ts)) throw new IndomainError('SRV_REPLAYED_REQUEST', `nonce ${nonce} from "${sender}"`);
    return sender;
  }

  /** The verified sender's name, or a coded refusal (the whole request at once, body included). */
  verify(method: string, path: string, headers: Record<string, string | string[] | undefined>, body: Uint8Array): string {
    const h = (k: string) => {
      const v = headers[k];
      return Array.isArray(v) ? v[0] : v;
    };
    const sender = h(HEADER.node);
    const timestamp = h(HEADER.timestamp);
    const nonce = h(HEADER.nonce);
    const signature = h(HEADER.signature);
    if (!sender || !timestamp || !nonce || !signature) {
      throw new IndomainError('SRV_UNSIGNED', `missing ${[HEADER.node, HEADER.timestamp, HEADER.nonce, HEADER.signature].filter((k) => !h(k)).join(', ')}`);
    }
    return this.check(method, path, sender, timestamp, nonce, signature, sha256Hex(body));
  }
}
