/**
 * The inbox of a node: a signed request's envelope is checked (declared type; the signer is the
 * node that plays the sender's role in the job) and written to the inbox before the sender gets
 * its 202. A message already in the inbox (same job, protocol, type, round, sender and receiver
 * role) is acknowledged and ignored, so retries are harmless.
 */
import { IndomainError } from '../../engine/errors.ts';
import { decodeMessage } from '../../protocols/codec.ts';
import { messageSpec, type Envelope } from '../../protocols/message.ts';
import { isConsortium, nodeOfRole, parseAnySpec, type AnySpec } from '../jobs/spec.ts';
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

  /** Accept a verified request body from `sender`: check, store, schedule. */
  accept(sender: string, bytes: Uint8Array): { duplicate: boolean } {
    const { store, gate } = this.o;
    const env = decodeMessage(bytes);
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
    if (fresh && env.protocol === 'job' && env.type === 'JobCancel') store.updateJob(env.job, { status: 'cancelled' });
    else if (fresh) this.o.pump(env.job);
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
