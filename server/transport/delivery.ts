/**
 * Delivery of the outbox: the messages a node committed are sent in order, per peer, signed, and
 * retried with back-off (to 2 s) until the peer accepts them. A peer that refuses a message (4xx
 * other than 429) fails its job here; an unknown peer too. 5xx, 429 and network errors are retried.
 */
import { IndomainError } from '../../engine/errors.ts';
import { metaOfKey } from '../messages.ts';
import type { NodeStore } from '../store/node-store.ts';
import { signRequest, type Identity } from '../signing.ts';
import { MESSAGE_PATH } from './egress.ts';
import type { HttpClient } from './http-client.ts';
import type { Peer } from './peer.ts';

export interface DeliveryOptions {
  readonly store: NodeStore;
  readonly identity: Identity;
  readonly peers: ReadonlyMap<string, Peer>;
  readonly http: HttpClient;
  /** A message of `job` will never be delivered: the job fails. */
  readonly fail: (job: string, e: IndomainError) => void;
}

export class Delivery {
  private delivering = false;
  private again = false;
  private stopped = false;

  constructor(private readonly o: DeliveryOptions) {}

  stop(): void {
    this.stopped = true;
  }

  /** Deliver what is pending (again, if a delivery is running). */
  kick(): void {
    if (this.delivering) {
      this.again = true;
      return;
    }
    this.delivering = true;
    void this.deliver().finally(() => {
      this.delivering = false;
      if (this.again && !this.stopped) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async deliver(): Promise<void> {
    const { store, peers } = this.o;
    let backoff = 50;
    while (!this.stopped) {
      const rows = store.undelivered();
      if (rows.length === 0) return;
      const blocked = new Set<string>();
      let progressed = false;
      for (const row of rows) {
        if (blocked.has(row.toNode)) continue;
        const peer = peers.get(row.toNode);
        if (!peer) {
          store.abandoned(row, `no pinned peer "${row.toNode}"`);
          this.o.fail(row.job, new IndomainError('SRV_UNKNOWN_PEER', `no pinned peer "${row.toNode}"`));
          continue;
        }
        const r = await this.post(peer, row.bytes);
        if (r === 'ok') {
          store.delivered(row, metaOfKey(row.key));
          progressed = true;
        } else if (r === 'retry') blocked.add(row.toNode);
        else {
          store.abandoned(row, r.message);
          this.o.fail(row.job, r);
        }
      }
      if (!progressed) {
        await new Promise((res) => setTimeout(res, backoff));
        backoff = Math.min(2000, backoff * 2);
      } else backoff = 50;
    }
  }

  private async post(peer: Peer, body: Uint8Array): Promise<'ok' | 'retry' | IndomainError> {
    const headers = { ...signRequest(this.o.identity, 'POST', MESSAGE_PATH, body), 'content-type': 'application/msgpack' };
    try {
      const res = await this.o.http.post(peer.url + MESSAGE_PATH, headers, body);
      if (res.status >= 200 && res.status < 300) return 'ok';
      if (res.status >= 500 || res.status === 429) return 'retry';
      const text = res.body.toString('utf8');
      let code = 'SRV_BAD_REQUEST';
      let message = text;
      try {
        const j = JSON.parse(text) as { code?: unknown; message?: unknown };
        if (typeof j.code === 'string') code = j.code;
        if (typeof j.message === 'string') message = j.message;
      } catch {
        /* keep the text */
      }
      return new IndomainError('SRV_PEER_UNREACHABLE', `${peer.name} refused a message: ${code}: ${message}`);
    } catch {
      return 'retry';
    }
  }
}
