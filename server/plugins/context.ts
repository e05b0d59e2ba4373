/**
 * What a node's plugins share, decorated on the root instance: the node's runtime, store,
 * identity, peers, HTTP client and signed-exchange client. Each plugin decorates its own state
 * (request verifier, scorers, monitors) on its own encapsulated child; nothing is module-level.
 */
import type { AuthorisationRegistry } from '../authz.ts';
import type { DataRoot } from '../data-root.ts';
import type { NodeLimits } from '../limits.ts';
import type { ConsoleSessions } from './console-auth.ts';
import type { NodeRuntime } from '../runtime.ts';
import type { Identity } from '../signing.ts';
import type { NodeStore } from '../store/node-store.ts';
import type { SignedClient } from '../transport/exchange.ts';
import type { HttpClient } from '../transport/http-client.ts';
import type { NodeRole, Peer } from '../transport/peer.ts';

export interface RouteEntry {
  readonly method: string;
  readonly url: string;
}

/** TEST ONLY switches, for tests/attacks (never from a job spec, an HTTP request or the command line). */
export interface UnsafeAppOptions {
  /** 'url-prefix' restores the old admin check on the raw URL text (the bypass). */
  readonly authCheck?: 'route' | 'url-prefix';
  /** 'unconfined' reads any path the process can (the old handling). */
  readonly dataPaths?: 'root' | 'unconfined';
  /**
   * The peer routes take any body the root parses (JSON, text) and read it before any check of the
   * signature headers (the old order): an unsigned caller makes the node buffer and parse it.
   */
  readonly peerBodyFirst?: boolean;
  /**
   * The peer routes check headers, pinned sender and freshness before the body, but the signature
   * only after buffering the whole body (the order before issue 15): a forger using a pinned
   * peer's name makes the node buffer up to the body limit.
   */
  readonly peerSignatureAfterBody?: boolean;
  /** The bank takes a signed exchange's reply without checking the platform's signature on it (the old handling). */
  readonly acceptUnsignedReplies?: boolean;
  /** The bank names every enterprise of its book to the platform, authorised or not (the old behaviour). */
  readonly askUnauthorised?: boolean;
  /** The platform answers scoring requests under any purpose, `modelling` included (the old check). */
  readonly scoreForAnyPurpose?: boolean;
  /** 'off': a console session's state-changing request needs no CSRF token and may come from any origin. */
  readonly consoleCsrf?: 'on' | 'off';
}

export interface NodeContext {
  readonly runtime: NodeRuntime;
  readonly store: NodeStore;
  readonly identity: Identity;
  readonly role: NodeRole;
  readonly peers: ReadonlyMap<string, Peer>;
  readonly http: HttpClient;
  readonly client: SignedClient;
  readonly adminToken: string;
  /** Console sessions signed in with the admin token (plugins/console-auth.ts). */
  readonly sessions: ConsoleSessions;
  /** The directory admin requests may read data files from. */
  readonly dataRoot: DataRoot;
  /** The node's limits (server/limits.ts). */
  readonly limits: NodeLimits;
  /** The platform's authorisation registry (platform nodes only). */
  readonly authz: AuthorisationRegistry | undefined;
  readonly unsafe: UnsafeAppOptions;
  /** Interval between chain-head exchanges, ms (server/audit-heads.ts; default 60 s). */
  readonly headIntervalMs?: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    node: NodeContext;
    /**
     * Every route of the node, those behind the admin token, and the console's public ones (its
     * files and sign-in: plugins/console.ts), collected as they are registered.
     */
    routeTable: { all: RouteEntry[]; admin: RouteEntry[]; console: RouteEntry[] };
  }
}
