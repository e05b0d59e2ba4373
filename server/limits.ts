/**
 * A node's limits on the work a request or a job may make it do (issue 15, item 7), in one place:
 * every one has a default here, a command-line flag (server/main.ts) and a line in server/README.md.
 * A leaf module: the app, the runtime, the scorers and the data root read it.
 */
import { IndomainError } from '../engine/errors.ts';

export interface NodeLimits {
  /** Coordinator: a job with no progress for this long fails with SRV_JOB_STALLED (`--job-timeout` seconds). */
  readonly jobTimeoutMs: number;
  /** A request (headers and body) must arrive within this time, or 408 SRV_TIMEOUT (`--request-timeout` seconds). */
  readonly requestTimeoutMs: number;
  /** A connection idle between requests is closed after this (`--idle-timeout` seconds). */
  readonly idleTimeoutMs: number;
  /** Largest data file a node reads: registration, jobs, scoring (`--max-data-file-mb`). */
  readonly dataFileBytes: number;
  /** Longest enterprise id a request may carry (online scoring, signed exchanges) (`--max-id-length`). */
  readonly idLength: number;
  /** Most enterprise ids in one signed exchange (`--max-ids`); the bank sends larger sets in chunks of this size. */
  readonly idsPerRequest: number;
}

export const DEFAULT_LIMITS: NodeLimits = {
  jobTimeoutMs: 30 * 60 * 1000,
  requestTimeoutMs: 60 * 1000,
  idleTimeoutMs: 30 * 1000,
  dataFileBytes: 512 * 1024 * 1024,
  idLength: 64,
  idsPerRequest: 10_000,
};

/** The defaults with `given` over them; each must be a positive integer. */
export function nodeLimits(given: Partial<NodeLimits> = {}): NodeLimits {
  const l = { ...DEFAULT_LIMITS, ...given };
  for (const [k, v] of Object.entries(l)) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new IndomainError('CLI_BAD_ARGS', `limit ${k} must be a positive integer`, { field: k });
  }
  return l;
}

/**
 * Check a list of enterprise ids against the limits before anything else reads, echoes or audits
 * them: at most `idsPerRequest`, each a string of at most `idLength` characters. The refusal names
 * the field and the limit, never an id.
 */
export function checkIds(ids: unknown, limits: NodeLimits, field = 'ids'): asserts ids is string[] {
  if (!Array.isArray(ids)) throw new IndomainError('SRV_BAD_REQUEST', 'must be a list of ids', { field });
  if (ids.length > limits.idsPerRequest) throw new IndomainError('SRV_LIMIT_EXCEEDED', `${ids.length} ids, at most ${limits.idsPerRequest} in one request`, { field });
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as unknown;
    if (typeof id !== 'string' || id.length > limits.idLength) throw new IndomainError('SRV_LIMIT_EXCEEDED', `an id longer than ${limits.idLength} characters`, { field: `${field}[${i}]` });
  }
}
