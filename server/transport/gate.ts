/**
 * The gate of a node: the one check everything that leaves it passes (job messages, replies to
 * signed requests, the bank's own signed requests), and the matching check of what arrives.
 *
 * Leaving, a message must be
 *   - a declared type (protocols/message.ts), with exactly its declared fields, nested records
 *     included (structured content is declared, never JSON inside a string);
 *   - sent in a role this node plays in the job (from the job spec this node stored: guest, host,
 *     or coordinator/arbiter; in a consortium job bank-1 … bank-n, each a declared `bank`; for online scoring and monitoring the model's job, so bank = guest
 *     and platform = host), and that role one of the type's declared senders;
 *   - addressed to a role declared as a receiver of the type, played by another node (and, for a
 *     request the caller addresses itself, by the node it is about to contact);
 *   - of a privacy class the node's policy allows;
 *   - of the job's mode: no `vfl-lr` and no `job/BankMetrics` in a two-party job (`"arbiter":
 *     "none"`, which also has no arbiter role), no `vfl-lr-2p` and no `job/TrainingRound` in a
 *     three-party one (jobs/spec.ts messageOfJob).
 * A refusal is audited (`egress-blocked`, with the reason: codes and field names, never values)
 * and thrown as SRV_EGRESS_BLOCKED; nothing of the message is queued or sent.
 *
 * Arriving, a message must be a declared type with its declared fields, of the job's mode, from a declared sender role that the signing node plays in the job, to a declared receiver
 * role this node plays.
 *
 * Messages of no job (audit/ChainHead, server/audit-heads.ts) are declared from and to `node` and
 * carry job `@heads`: leaving, they go only to the pinned node the caller contacts; arriving, they
 * are checked against their declaration (the signature already names a pinned node).
 *
 * `legacy` (TEST ONLY, for tests/attacks: never reachable from a job spec, an HTTP request or the
 * command line) is the gate as it was: declared type, fields and class leaving, no role check, and
 * nothing checked arriving.
 */
import { IndomainError, isIndomainError } from '../../engine/errors.ts';
import { messageSpec, validateBody, type Envelope, type MessageSpec } from '../../protocols/message.ts';
import { nodeOfRole, parseAnySpec, messageOfJob, roleKind, rolesOf, rolesOfJob, stageStartProblem, type AnySpec } from '../jobs/spec.ts';
import { HEADS_JOB } from '../audit.ts';
import { LEGACY_FIELDS } from '../messages.ts';
import type { NodeStore } from '../store/node-store.ts';
import type { EgressPolicy, GateMode } from './egress.ts';

function senders(m: MessageSpec): readonly string[] {
  return typeof m.from === 'string' ? [m.from] : m.from;
}

export class Gate {
  private readonly specs = new Map<string, AnySpec>();

  constructor(
    private readonly o: { readonly name: string; readonly store: NodeStore; readonly policy: EgressPolicy; readonly mode?: GateMode },
  ) {}

  get mode(): GateMode {
    return this.o.mode ?? 'enforce';
  }

  /** The job spec this node stored (specs do not change once stored). */
  private jobSpec(job: string): AnySpec | undefined {
    let s = this.specs.get(job);
    if (!s) {
      const row = this.o.store.job(job);
      if (!row) return undefined;
      this.specs.set(job, (s = parseAnySpec(row.spec)));
    }
    return s;
  }

  /**
   * Check a message about to leave; returns the node it goes to. `toNode`, when given, is the node
   * the caller is about to contact, which must be the one playing the receiver role.
   */
  check(env: Envelope, toNode?: string): string {
    const r = this.problem(env, toNode);
    if (typeof r === 'string') return r;
    this.o.store.tx(() => this.o.store.audit.append('egress-blocked', env.job, { protocol: env.protocol, type: env.type, from: env.from, to: env.to, reason: r.reason }));
    throw new IndomainError('SRV_EGRESS_BLOCKED', `${env.protocol}/${env.type} from the ${env.from} to the ${env.to}: ${r.reason}`);
  }

  private problem(env: Envelope, toNode: string | undefined): string | { reason: string } {
    const no = (reason: string) => ({ reason });
    if (typeof env.job !== 'string' || env.job.includes('|')) return no('job id contains "|"');
    let m: MessageSpec;
    try {
      m = messageSpec(env.protocol, env.type);
      const legacy = this.mode === 'legacy' ? LEGACY_FIELDS[`${env.protocol}/${env.type}`] : undefined;
      validateBody(legacy ? { ...m, fields: legacy } : m, env.body, 'SRV_EGRESS_BLOCKED');
    } catch (e) {
      return no(isIndomainError(e) ? e.message : 'undeclared');
    }
    if (!this.o.policy.allowedClasses.includes(m.privacy)) return no(`privacy class "${m.privacy}" is not allowed by this node's policy`);
    const spec = this.jobSpec(env.job);
    if (this.mode === 'legacy') return toNode ?? (spec ? nodeOfRole(spec, env.to) : no('the job is unknown here'));
    // A type declared between nodes inside a job is refused below: no job role is `node`.
    if (env.job === HEADS_JOB) return this.betweenNodes(env, m, toNode);
    if (!spec) return no('the job is unknown here');
    if (!messageOfJob(spec, env.protocol, env.type)) return no(`${env.protocol}/${env.type} is not part of this job's mode (arbiter)`);
    const stage = stageStartProblem(spec, env);
    if (stage) return no(`${stage.field} ${stage.why}`);
    if (!senders(m).includes(roleKind(env.from))) return no(`the sender role "${env.from}" is not a declared sender of this type`);
    const mine = rolesOf(spec, this.o.name);
    if (!mine.includes(env.from)) return no(`this node plays ${mine.map((x) => `"${x}"`).join(', ') || 'no role'} in the job, not "${env.from}"`);
    if (!m.to.includes(roleKind(env.to))) return no(`the receiver role "${env.to}" is not a declared receiver of this type`);
    if (!rolesOfJob(spec).includes(env.to)) return no(`unknown receiver role "${env.to}"`);
    const dest = nodeOfRole(spec, env.to);
    if (dest === this.o.name) return no('the receiver role is played by this node');
    if (toNode !== undefined && toNode !== dest) return no(`the receiver role "${env.to}" is played by another node than the one addressed`);
    return dest;
  }

  /**
   * A message of no job (audit/ChainHead): declared from and to `node`, in job {@link HEADS_JOB},
   * to the pinned node the caller contacts (the only way such a message leaves).
   */
  private betweenNodes(env: Envelope, m: MessageSpec, toNode: string | undefined): string | { reason: string } {
    if (env.job !== HEADS_JOB || !senders(m).includes('node') || env.from !== 'node' || env.to !== 'node') return { reason: 'a message outside a job must be declared and sent between nodes, in job @heads' };
    if (toNode === undefined || toNode === this.o.name) return { reason: 'a message between nodes goes to one other pinned node' };
    return toNode;
  }

  /**
   * Check a message that arrived signed by `sender` against its declaration and the job spec
   * (`spec`, or the one stored here). Refusals are coded, with field names, never values.
   */
  admit(env: Envelope, sender: string, spec = this.jobSpec(env.job)): void {
    const m = messageSpec(env.protocol, env.type);
    if (env.job === HEADS_JOB) {
      if (env.from !== 'node' || env.to !== 'node' || !senders(m).includes('node')) throw new IndomainError('SRV_UNKNOWN_PARTY', `${env.protocol}/${env.type} is not a message between nodes`, { field: 'job' });
      validateBody(m, env.body, 'SRV_BAD_REQUEST');
      return;
    }
    if (!spec) throw new IndomainError('SRV_NOT_FOUND', `job "${env.job}" is unknown here`);
    if (this.mode === 'enforce') {
      if (!messageOfJob(spec, env.protocol, env.type)) throw new IndomainError('SRV_UNKNOWN_PARTY', `${env.protocol}/${env.type} is not part of job ${spec.id} in its arbiter mode`, { field: 'type' });
      if (!senders(m).includes(roleKind(env.from))) throw new IndomainError('SRV_UNKNOWN_PARTY', `${env.protocol}/${env.type} is not sent by the ${env.from}`, { field: 'from' });
      if (!m.to.includes(roleKind(env.to))) throw new IndomainError('SRV_UNKNOWN_PARTY', `${env.protocol}/${env.type} is not sent to the ${env.to}`, { field: 'to' });
      validateBody(m, env.body, 'SRV_BAD_REQUEST');
      const stage = stageStartProblem(spec, env);
      if (stage) throw new IndomainError('SRV_BAD_REQUEST', `StageStart of job ${spec.id}: ${stage.field} ${stage.why}`, { field: stage.field });
    }
    if (nodeOfRole(spec, env.from) !== sender) throw new IndomainError('SRV_UNKNOWN_PARTY', `"${sender}" is not the ${env.from} of job ${spec.id}`);
    if (nodeOfRole(spec, env.to) !== this.o.name) throw new IndomainError('SRV_UNKNOWN_PARTY', `message for the ${env.to}, this node is not it`);
  }
}
