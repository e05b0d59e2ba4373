/**
 * The bank's copy of its own authorisations (protocol `authz`), so that it asks the platform only
 * about enterprises it holds an authorisation for.
 *
 * The platform's registry (server/authz.ts) is the record of every grant: the bank obtains each
 * grant from the enterprise, the platform registers it. Before scoring (`score/PartialScoreRequest`)
 * or monitoring (`monitor/EventsRequest`) the bank checks each enterprise against its copy and
 * refuses the unauthorised ones locally, with the coded outcome `AUTH_NOT_AUTHORISED` and the
 * reason (missing, expired, revoked, not yet valid); their ids never leave the bank. The platform
 * still checks every id it is asked about (a revocation takes effect there at once).
 *
 * Flow (signed `POST /v1/peer/grants`, per model and purpose):
 *   G → H   GrantsRequest   model, purpose; no enterprise id (metadata)
 *   H       the sender must be the model's bank; its own records for that purpose only
 *   H → G   Grants          enterprise, valid from, valid to, revoked at (0: not revoked) (metadata)
 * The bank fetches its copy on first use, when it is more than a minute old (a revocation), and
 * whenever an enterprise is not valid in it (a grant registered since); concurrent refreshes share
 * one exchange, and one that started before the miss is not trusted to include it. A refresh
 * sends no id.
 *
 * What each party learns: the platform, that the bank refreshes its copy (no id); the bank, its own
 * authorisation records, which it obtained itself.
 */
import { DEFAULT_LIMITS, type NodeLimits } from './limits.ts';
import { randomBytes } from 'node:crypto';
import { IndomainError } from '../engine/errors.ts';
import type { Envelope } from '../protocols/message.ts';
import { PURPOSES, status, type AuthorisationRegistry, type Authorisation, type Exclusion, type Purpose } from './authz.ts';
import { parseJobSpec } from './jobs/spec.ts';
import type { NodeStore } from './store/node-store.ts';
import { answerSigned } from './transport/answer.ts';
import { GRANTS_EXCHANGE, type SignedClient } from './transport/exchange.ts';
import type { Gate } from './transport/gate.ts';
import type { Peer } from './transport/peer.ts';
import type { Identity } from './signing.ts';

/** The platform's side: a bank's own records, for one purpose, to the bank of a model. */
export class PlatformGrants {
  constructor(
    private readonly store: NodeStore,
    private readonly authz: AuthorisationRegistry,
    private readonly gate: Gate,
    private readonly limits: NodeLimits = DEFAULT_LIMITS,
  ) {}

  answer(sender: string, bytes: Uint8Array): Promise<Uint8Array> {
    return answerSigned(this.store, this.gate, GRANTS_EXCHANGE, sender, bytes, this.limits, ({ model, purpose }) => {
      const job = this.store.job(model);
      if (!job) throw new IndomainError('SC_UNKNOWN_MODEL', `"${model}"`, { field: 'model' });
      if (parseJobSpec(job.spec).guest.node !== sender) throw new IndomainError('SRV_UNKNOWN_PARTY', `"${sender}" is not the bank of model "${model}"`);
      if (!(PURPOSES as readonly string[]).includes(purpose)) throw new IndomainError('SRV_BAD_REQUEST', 'unknown purpose', { field: 'purpose' });
      const recs = this.authz.records(sender, purpose as Purpose);
      const body = {
        ids: recs.map((r) => r.uscc),
        validFrom: Float64Array.from(recs, (r) => r.validFrom),
        validTo: Float64Array.from(recs, (r) => r.validTo),
        revokedAt: Float64Array.from(recs, (r) => r.revokedAt ?? 0),
      };
      return { body, recorded: { grants: recs.length } };
    });
  }
}

/** A copy older than this is refreshed before use, so that a revocation reaches it within a minute. */
export const GRANTS_MAX_AGE_MS = 60_000;

interface Copy {
  by: Map<string, Authorisation[]>;
  fetchedAt: number;
  /** The refresh in flight, and whether one is queued behind it. */
  inFlight: Promise<void> | undefined;
  queued: Promise<void> | undefined;
}

/** The bank's side: its copy of its own authorisations, per (model, purpose). */
export class BankGrants {
  private readonly copies = new Map<string, Copy>();

  constructor(
    private readonly identity: Identity,
    private readonly client: SignedClient,
    /**
     * TEST ONLY, for tests/attacks/unauthorised-ids: false sends every id to the platform (the old
     * behaviour). No job spec, request or command-line flag sets it.
     */
    private readonly filterIds = true,
  ) {}

  /**
   * Split `ids` into those the bank holds a valid authorisation for (for `purpose`, now) and the
   * others with the reason; refreshes its copy once if any is not valid in it.
   */
  async split(platform: Peer, model: string, purpose: Purpose, ids: readonly string[]): Promise<{ allowed: string[]; refused: Map<string, Exclusion> }> {
    if (!this.filterIds) return { allowed: [...ids], refused: new Map() };
    const k = `${model}\u0000${purpose}`;
    let c = this.copies.get(k);
    if (!c) this.copies.set(k, (c = { by: new Map(), fetchedAt: -Infinity, inFlight: undefined, queued: undefined }));
    if (Date.now() - c.fetchedAt > GRANTS_MAX_AGE_MS) await this.refresh(c, platform, model, purpose);
    let r = this.check(c, ids);
    if (r.refused.size > 0) {
      await this.refresh(c, platform, model, purpose);
      r = this.check(c, ids);
    }
    return r;
  }

  private check(c: Copy, ids: readonly string[]): { allowed: string[]; refused: Map<string, Exclusion> } {
    const now = Date.now();
    const allowed: string[] = [];
    const refused = new Map<string, Exclusion>();
    for (const id of ids) {
      const s = status(c.by.get(id) ?? [], now);
      if (s === 'valid') allowed.push(id);
      else refused.set(id, s);
    }
    return { allowed, refused };
  }

  /** A refresh that starts now or later: one in flight that started earlier may predate a grant. */
  private refresh(c: Copy, platform: Peer, model: string, purpose: Purpose): Promise<void> {
    if (!c.inFlight) {
      c.inFlight = this.fetch(c, platform, model, purpose).finally(() => (c.inFlight = undefined));
      return c.inFlight;
    }
    c.queued ??= c.inFlight
      .catch(() => {})
      .then(() => {
        c.queued = undefined;
        return this.refresh(c, platform, model, purpose);
      });
    return c.queued;
  }

  private async fetch(c: Copy, platform: Peer, model: string, purpose: Purpose): Promise<void> {
    const request: Envelope = { job: model, protocol: 'authz', type: 'GrantsRequest', round: 0, from: 'guest', to: 'host', body: { request: randomBytes(12).toString('hex'), model, purpose } };
    const reply = await this.client.exchange(platform, GRANTS_EXCHANGE, request, { sent: { purpose }, received: (r) => ({ grants: (r.body.ids as string[]).length }) });
    const g = reply.body as { ids: string[]; validFrom: Float64Array; validTo: Float64Array; revokedAt: Float64Array };
    const n = g.ids.length;
    if (g.validFrom.length !== n || g.validTo.length !== n || g.revokedAt.length !== n) throw new IndomainError('SRV_BAD_REQUEST', 'authz/Grants: lists of different lengths', { field: 'validFrom' });
    const by = new Map<string, Authorisation[]>();
    for (let i = 0; i < n; i++) {
      const a: Authorisation = { uscc: g.ids[i]!, bank: this.identity.name, purpose, validFrom: g.validFrom[i]!, validTo: g.validTo[i]!, revokedAt: g.revokedAt[i]! === 0 ? null : g.revokedAt[i]!, sourceRef: '' };
      const l = by.get(a.uscc);
      if (l) l.push(a);
      else by.set(a.uscc, [a]);
    }
    c.by = by;
    c.fetchedAt = Date.now();
  }
}

/** The bank's local refusal of an enterprise it holds no valid authorisation for. */
export function notAuthorised(id: string, why: Exclusion): IndomainError {
  return new IndomainError('AUTH_NOT_AUTHORISED', `${id}: ${why} (bank's copy of its authorisations; not sent to the platform)`);
}
