/**
 * The inbox of a node: a signed request's envelope is checked (declared type; the signer is the
 * node that plays the sender's role in the job) and written to the inbox before the sender gets
 * its 202. A message already in the inbox (same job, protocol, type, round, sender and receiver
 * role) is acknowledged and ignored, so retries are harmless.
 */
import { IndomainError, isIndomainError } from '../../engine/errors.ts';
import { sha256Hex } from '../signing.ts';
import { decodeMessage } from '../../protocols/codec.ts';
import { messageSpec, type Envelope } from '../../protocols/message.ts';
import { isConsortium, nodeOfRole, parseAnySpec, TERMINAL, type AnySpec } from '../jobs/spec.ts';
import type { NodeStore } from '../store/node-store.ts';
import { messageKey } from './egress.ts';
import type { Gate } from './gate.ts';
import type { NodeRole, Peer } from './peer.ts';

export interface InboxOptions {
  readonly name: string;
  readonly role: NodeRole;
  readonly store: NodeStore;
  readonly gate: Gate;
  readonly peers: ReadonlyMap<string, Peer>;
  /** Approve jobs without the analyst (the lab). */
  readonly autoApprove: boolean;
  /** A fresh message of `job` was stored: process it. */
  readonly pump: (job: string) => void;
}

export class Inbox {
  constructor(private readonly o: InboxOptions) {}

  /**
   * Accept a verified request body from `sender`: check, store, schedule. A refused message is
   * audited (`ingress-refused`: the signer, the message's declared identity, the code; never its
   * body) and nothing of it is stored: no job, no approval, no inbox row.
   */
  accept(sender: string, bytes: Uint8Array): { duplicate: boolean } {
    const env = decodeMessage(bytes);
    try {
      return this.take(sender, bytes, env);
    } catch (e) {
      if (isIndomainError(e) && this.o.gate.mode === 'enforce') this.refused(sender, bytes, env, e);
      throw e;
    }
  }

  private refused(sender: string, bytes: Uint8Array, env: Envelope, e: IndomainError): void {
    const { store } = this.o;
    const cut = (v: unknown) => String(v).slice(0, 64);
    // Recorded under the job only if the job is known here: a refused JobStart reserves nothing.
    const known = typeof env.job === 'string' && env.job.length <= 64 && store.job(env.job) !== undefined;
    store.tx(() =>
      store.audit.append('ingress-refused', known ? env.job : '', {
        peer: sender,
        job: cut(env.job),
        protocol: cut(env.protocol),
        type: cut(env.type),
        from: cut(env.from),
        to: cut(env.to),
        round: Number.isSafeInteger(env.round) ? env.round : -1,
        code: e.code,
        ...(e.location?.field !== undefined ? { field: cut(e.location.field) } : {}),
        bytes: bytes.length,
        sha256: sha256Hex(bytes),
      }),
    );
  }

  private take(sender: string, bytes: Uint8Array, env: Envelope): { duplicate: boolean } {
    const { store, gate } = this.o;
    const spec = messageSpec(env.protocol, env.type);
    if (env.protocol === 'job' && env.type === 'JobStart') {
      if (typeof env.body.spec !== 'string') throw new IndomainError('SRV_BAD_REQUEST', 'JobStart carries no spec text', { field: 'spec' });
      const job = parseAnySpec(env.body.spec);
      if (job.id !== env.job) throw new IndomainError('SRV_BAD_REQUEST', `JobStart for "${env.job}" carries spec "${job.id}"`, { field: 'job' });
      if (nodeOfRole(job, env.to) !== this.o.name) throw new IndomainError('SRV_UNKNOWN_PARTY', `this node is "${this.o.name}", not the ${env.to} of job ${job.id}`);
      // Checked before anything is stored: only the job's coordinator starts it.
      gate.admit(env, sender, job);
      if (gate.mode === 'enforce') this.checkJobStart(env, job);
      store.putJob(job.id, JSON.stringify(job));
      if (this.o.role === 'platform' && store.decision(job.id) === undefined) {
        if (this.o.autoApprove) store.decide(job.id, 'approved', 'auto-approval');
        else store.updateJob(job.id, { status: 'awaiting-approval' });
      }
    } else {
      if (!store.job(env.job)) throw new IndomainError('SRV_NOT_FOUND', `job "${env.job}" is unknown here`);
      gate.admit(env, sender);
    }
    const meta = { protocol: env.protocol, type: env.type, round: env.round, privacy: spec.privacy };
    const fresh = store.receive(env.job, messageKey(env), sender, bytes, meta);
    const stop = env.protocol === 'job' && (env.type === 'JobCancel' || env.type === 'JobStopped');
    // The coordinator stopped the job: terminal here (a job already over keeps its status).
    if (fresh && stop && !TERMINAL.includes(store.job(env.job)?.status ?? '')) {
      if (env.type === 'JobCancel') store.updateJob(env.job, { status: 'cancelled' });
      else store.updateJob(env.job, { status: 'failed', error: JSON.stringify({ code: 'SRV_JOB_FAILED', message: 'the coordinator stopped the job', party: 'coordinator', cause: { code: env.body.code } }) });
    } else if (fresh && !stop) this.o.pump(env.job);
    return { duplicate: !fresh };
  }

  /**
   * What a JobStart must be beyond its declaration: round 0; each node of its spec playing its role
   * in the pinned peers (the coordinator a coordinator, the guest a bank, the host the platform: a
   * bank cannot coordinate a job); and, for a job already here, the same spec (a job's spec is fixed
   * by its first JobStart, and the job runs the stored one).
   */
  private checkJobStart(env: Envelope, spec: AnySpec): void {
    if (env.round !== 0) throw new IndomainError('SRV_BAD_REQUEST', `JobStart must be round 0, got ${env.round}`, { field: 'round' });
    // A consortium job: the coordinator a coordinator node, every bank a bank node.
    const sides: [string, string, string][] = isConsortium(spec)
      ? [['coordinator', spec.coordinator, 'coordinator'], ...spec.banks.map((b, i): [string, string, string] => [`banks[${i}]`, b.node, 'bank'])]
      : [
          ['coordinator', spec.coordinator, 'coordinator'],
          ['guest', spec.guest.node, 'bank'],
          ['host', spec.host.node, 'platform'],
        ];
    for (const [side, node, role] of sides) {
      const playedBy = node === this.o.name ? this.o.role : this.o.peers.get(node)?.role;
      if (playedBy !== role) throw new IndomainError('SRV_UNKNOWN_PARTY', `the ${side} of job ${spec.id} must be a ${role} node`, { field: side });
    }
    const stored = this.o.store.job(spec.id);
    if (stored && stored.spec !== JSON.stringify(spec)) throw new IndomainError('SRV_BAD_REQUEST', `job ${spec.id} already exists here with another specification`, { field: 'spec' });
  }
}
