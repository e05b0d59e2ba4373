/**
 * The job specification: which nodes play which role, on which datasets, with which pipeline and
 * parameters. A leaf module: the runtime, the gate, the jobs and the online paths all read it.
 *
 * {@link parseJobSpec} is the only way to a {@link JobSpec}: from an admin request's body, a
 * JobStart's `spec` field, or the spec string a node stored. It validates every field (refusals
 * name the field) and the protocol configurations, so a job fails at submission, not mid-way.
 */
import { IndomainError } from '../../engine/errors.ts';
import type { Envelope } from '../../protocols/message.ts';
import { scorecardConfig, type ScorecardConfig } from '../../protocols/scorecard/protocol.ts';
import { vflConfig, type VflConfig } from '../../protocols/vfl-lr/protocol.ts';

export type Pipeline = 'lr' | 'scorecard';

export const STAGES: Record<Pipeline, readonly string[]> = {
  lr: ['psi', 'training', 'evaluation'],
  scorecard: ['psi', 'binning', 'training', 'scorecard', 'evaluation'],
};

export interface JobSpec {
  readonly id: string;
  readonly pipeline: Pipeline;
  /** Node names. */
  readonly coordinator: string;
  readonly guest: { readonly node: string; readonly dataset: string };
  readonly host: { readonly node: string; readonly dataset: string };
  readonly seed: string;
  readonly testFraction: number;
  readonly training?: Partial<Omit<VflConfig, 'job'>>;
  readonly scorecard?: Partial<Omit<ScorecardConfig, 'job'>> & { guestCategorical?: string[]; hostCategorical?: string[] };
}

/** Validate a job spec: a parsed JSON value, or the JSON text a node stored or received. */
export function parseJobSpec(raw: unknown): JobSpec {
  const bad = (field: string, why: string): never => {
    throw new IndomainError('SRV_BAD_REQUEST', `job spec: ${why}`, { field });
  };
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw) as unknown;
    } catch {
      bad('spec', 'is not JSON');
    }
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) bad('spec', 'must be an object');
  const s = raw as Record<string, unknown>;
  if (typeof s.id !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(s.id)) bad('id', 'must be 1–64 of A–Z a–z 0–9 . _ -');
  if (s.pipeline !== 'lr' && s.pipeline !== 'scorecard') bad('pipeline', 'must be "lr" or "scorecard"');
  if (typeof s.coordinator !== 'string') bad('coordinator', 'must name the coordinator node');
  for (const side of ['guest', 'host'] as const) {
    const p = s[side] as Record<string, unknown> | undefined;
    if (!p || typeof p !== 'object' || typeof p.node !== 'string' || typeof p.dataset !== 'string') bad(side, 'must be { node, dataset }');
  }
  const seed = s.seed === undefined ? '42' : String(s.seed);
  const testFraction = s.testFraction === undefined ? 0.2 : Number(s.testFraction);
  if (!(testFraction > 0 && testFraction < 1)) bad('testFraction', 'must be in (0, 1)');
  for (const k of ['training', 'scorecard'] as const) {
    if (s[k] !== undefined && (s[k] === null || typeof s[k] !== 'object' || Array.isArray(s[k]))) bad(k, 'must be an object');
  }
  const spec = { ...(s as unknown as JobSpec), seed, testFraction };
  // Check the protocol configurations now rather than in the middle of a job.
  vflConfig(spec.id, spec.training ?? {});
  if (spec.pipeline === 'scorecard') scorecardConfig(spec.id, stripDeclarations(spec.scorecard));
  return spec;
}

export function stripDeclarations(s: JobSpec['scorecard']): Partial<ScorecardConfig> {
  const { guestCategorical: _g, hostCategorical: _h, ...rest } = s ?? {};
  return rest;
}

export function envelope(job: string, protocol: string, type: string, round: number, from: string, to: string, body: Record<string, unknown>): Envelope {
  return { job, protocol, type, round, from, to, body };
}

/** Protocol roles of a job. */
export const ROLES = ['guest', 'host', 'coordinator', 'arbiter'] as const;

/** The node that plays `role` in a job (the coordinator node also runs the `vfl-lr` arbiter). */
export function nodeOfRole(spec: JobSpec, role: string): string {
  if (role === 'guest') return spec.guest.node;
  if (role === 'host') return spec.host.node;
  if (role === 'arbiter' || role === 'coordinator') return spec.coordinator;
  throw new IndomainError('SRV_UNKNOWN_PARTY', `role "${role}"`);
}

/** Every role `node` plays in a job. */
export function rolesOf(spec: JobSpec, node: string): string[] {
  return ROLES.filter((r) => nodeOfRole(spec, r) === node);
}
