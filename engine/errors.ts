/**
 * One catalogue of coded errors for the whole engine.
 *
 * Every failure that can reach a user or cross a node boundary is an {@link IndomainError} with a
 * code from {@link ERRORS}: a stable identifier, a message template and the HTTP status a service
 * answers with. Errors cross the wire as `{ code, message }`, never as a stack trace.
 * `tests/engine/errors.test.ts` checks that every code is unique, well formed and documented in
 * `docs/ERRORS.md`.
 */

export interface ErrorSpec {
  readonly status: number;
  readonly message: string;
}

export const ERRORS = {
  // Data layer: bad input files. Messages name file, line, column and field.
  DATA_FILE_UNREADABLE: { status: 400, message: 'cannot read the data file' },
  DATA_EMPTY_FILE: { status: 400, message: 'the file has no header row' },
  DATA_NO_ROWS: { status: 400, message: 'the file has a header but no data rows' },
  DATA_MISSING_ID_COLUMN: { status: 400, message: 'the id column is not in the header' },
  DATA_MISSING_LABEL_COLUMN: { status: 400, message: 'the label column is not in the header' },
  DATA_DUPLICATE_COLUMN: { status: 400, message: 'a column name appears twice in the header' },
  DATA_NO_FEATURES: { status: 400, message: 'the file has no feature columns' },
  DATA_RAGGED_ROW: { status: 400, message: 'a row has a different number of fields than the header' },
  DATA_NON_NUMERIC: { status: 400, message: 'a feature value is not a number' },
  DATA_BAD_LABEL: { status: 400, message: 'a label is not 0 or 1' },
  DATA_EMPTY_ID: { status: 400, message: 'an id is empty' },
  DATA_DUPLICATE_ID: { status: 400, message: 'an id appears twice' },
  DATA_BAD_USCC: { status: 400, message: 'an id is not a valid Unified Social Credit Code' },
  DATA_UNTERMINATED_QUOTE: { status: 400, message: 'a quoted field is not closed' },
  DATA_FILE_TOO_LARGE: { status: 413, message: "the data file is larger than the node's limit" },
  DATA_FINGERPRINT_MISMATCH: { status: 409, message: 'the dataset file no longer has the content (SHA-256) the job or its registration pinned; register it again and start a new job' },
  DATA_PATH_REFUSED: { status: 400, message: "the path is not a readable regular file under the node's data root" },
  // Private set intersection.
  PSI_WRONG_STAGE: { status: 409, message: 'a PSI message arrived in the wrong stage' },
  PSI_BAD_MESSAGE: { status: 400, message: 'a PSI message is malformed' },
  PSI_BAD_POINT: { status: 400, message: 'a blinded value is not a valid group element' },
  PSI_WORKER_FAILED: { status: 500, message: 'a PSI worker thread failed' },
  // Homomorphic encryption.
  HE_UNKNOWN_PARAMS: { status: 400, message: 'unknown CKKS parameter set' },
  HE_BAD_CIPHERTEXT: { status: 400, message: 'a ciphertext does not load under the job parameters' },
  HE_TOO_MANY_VALUES: { status: 400, message: 'more values than slots in one ciphertext' },
  HE_OUT_OF_RANGE: { status: 400, message: 'a value is outside the range CKKS can hold at this level' },
  HE_NOT_RERANDOMISED: { status: 500, message: 'a computed ciphertext was about to leave this party without re-randomisation' },
  // Secure aggregation among banks.
  SECAGG_BAD_CONFIG: { status: 400, message: 'invalid secure-aggregation configuration' },
  SECAGG_WRONG_STAGE: { status: 409, message: 'a secure-aggregation message arrived in the wrong stage' },
  SECAGG_BAD_MESSAGE: { status: 400, message: 'a secure-aggregation message is malformed' },
  SECAGG_BELOW_THRESHOLD: { status: 503, message: 'fewer banks than the threshold answered; the stage stays open' },
  SECAGG_OUT_OF_RANGE: { status: 400, message: 'an input value could make the fixed-point sum wrap' },
  // Vertical federated logistic regression.
  VFL_TOO_FEW_BANKS: { status: 503, message: 'a sum over banks would cover fewer banks than it must; the round is refused' },
  VFL_WRONG_STAGE: { status: 409, message: 'a training message arrived in the wrong stage' },
  VFL_WRONG_JOB: { status: 409, message: 'a training message belongs to another job' },
  VFL_WRONG_ROUND: { status: 409, message: 'a training message belongs to another round' },
  VFL_BAD_MESSAGE: { status: 400, message: 'a training message is malformed' },
  VFL_ROW_MISMATCH: { status: 400, message: 'the parties disagree on the number of aligned rows' },
  VFL_NOT_CONVERGED: { status: 500, message: 'training stopped without converging' },
  VFL_BAD_CONFIG: { status: 400, message: 'invalid training configuration' },
  VFL_BAD_DATA: { status: 400, message: 'training data holds a missing or non-finite value' },
  VFL_CONSTANT_FEATURE: { status: 422, message: 'a feature is constant over the training rows (drop it)' },
  VFL_NO_FEATURES: { status: 422, message: 'a party has no usable feature column' },
  VFL_SEPARATION: { status: 422, message: 'the training rows are perfectly separated: the model has no finite unpenalised optimum (check the named features for leakage of the outcome, then bin or drop them)' },
  VFL_WINDOWS: { status: 422, message: "the host's partial logits need more sigmoid windows than allowed (cap, bin or drop the named features)" },
  // Scorecards: binning, selection, scaling, exports.
  SC_BAD_CONFIG: { status: 400, message: 'invalid scorecard configuration' },
  SC_UNKNOWN_FEATURE: { status: 400, message: 'a feature named in the configuration is not in the data' },
  SC_WRONG_STAGE: { status: 409, message: 'a scorecard message arrived in the wrong stage' },
  SC_BAD_MESSAGE: { status: 400, message: 'a scorecard message is malformed' },
  SC_NO_FEATURES: { status: 422, message: 'no feature of a party passed selection' },
  SC_UNKNOWN_ENTERPRISE: { status: 404, message: 'the platform has no record of this enterprise' },
  SC_BAD_FEATURE: { status: 400, message: "a scoring request names a feature this model does not know, or gives a feature a value that is not a number or null, or one so large that its partial logit is not finite" },
  SC_UNKNOWN_MODEL: { status: 404, message: 'no deployed model with this name on this node' },
  // Transport and privacy policy.
  SRV_UNDECLARED_MESSAGE: { status: 400, message: 'a message type is not declared by any protocol' },
  SRV_UNKNOWN_PARTY: { status: 404, message: 'a message is addressed to an unknown party' },
  SRV_UNSIGNED: { status: 401, message: 'a request between nodes is not signed' },
  SRV_BAD_SIGNATURE: { status: 401, message: 'a request signature does not verify' },
  SRV_UNKNOWN_PEER: { status: 403, message: 'a request comes from a node that is not a pinned peer' },
  SRV_STALE_REQUEST: { status: 401, message: "a request timestamp is more than five minutes from the node's clock" },
  SRV_REPLAYED_REQUEST: { status: 409, message: 'a request nonce was already used' },
  SRV_BODY_TOO_LARGE: { status: 413, message: "a request body exceeds the node's limit" },
  SRV_MALFORMED_BODY: { status: 400, message: 'a request body is not valid msgpack' },
  SRV_ADMIN_TOKEN: { status: 401, message: 'an administrative request lacks a valid admin token' },
  SRV_NOT_FOUND: { status: 404, message: 'no such resource' },
  SRV_BAD_REQUEST: { status: 400, message: 'a request is invalid' },
  SRV_PEER_UNREACHABLE: { status: 503, message: 'a peer node did not accept a message in time' },
  SRV_JOB_FAILED: { status: 500, message: 'a job failed' },
  SRV_INTERNAL: { status: 500, message: 'internal error' },
  SRV_EGRESS_BLOCKED: { status: 403, message: "a message leaving the node is not a declared type allowed by the node's policy" },
  SRV_STORE_VERSION: { status: 500, message: "a node's database was written by a newer version of indomain" },
  SRV_JOB_NOT_RUNNING: { status: 409, message: 'the job is not running (completed, failed or cancelled)' },
  SRV_JOB_STALLED: { status: 504, message: 'the job made no progress within its time limit' },
  SRV_LIMIT_EXCEEDED: { status: 413, message: "a request exceeds one of the node's configured limits (id length, ids per request)" },
  SRV_TIMEOUT: { status: 408, message: 'a request was not received in time' },
  SRV_HEADERS_TOO_LARGE: { status: 431, message: "a request's URL and headers exceed the node's limit" },
  SRV_JOB_REFUSED: { status: 403, message: "the platform's analyst refused the job" },
  SRV_CSRF: { status: 403, message: 'a console request that changes state lacks its CSRF token or comes from another origin' },
  AUTH_BAD_RECORD: { status: 400, message: 'an authorisation record is invalid' },
  AUTH_NOT_AUTHORISED: { status: 403, message: 'the enterprise has no valid authorisation for this bank and purpose' },
  // Audit verification and anchoring (server/audit-*.ts).
  AUDIT_UNREADABLE: { status: 422, message: "a node's audit records cannot be read" },
  AUDIT_BAD_KEYS: { status: 400, message: "the regulator's keys file is invalid, or a head does not verify under it" },
  AUDIT_BAD_ANCHOR: { status: 400, message: 'the anchor file is invalid' },
  AUDIT_HEAD_REGRESSED: { status: 409, message: 'a chain head is behind or differs from one anchored before: records were removed or rewritten' },
  // Command line.
  CLI_BAD_ARGS: { status: 400, message: 'invalid command-line arguments' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** Where in an input a problem was found; every field optional. */
export interface ErrorLocation {
  file?: string;
  line?: number;
  column?: number;
  field?: string;
}

export class IndomainError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly location: ErrorLocation | undefined;

  constructor(code: ErrorCode, detail?: string, location?: ErrorLocation) {
    const spec = ERRORS[code];
    super(formatMessage(spec.message, detail, location));
    this.name = 'IndomainError';
    this.code = code;
    this.status = spec.status;
    this.location = location;
  }

  /** The wire form: code and message only. */
  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

function formatMessage(base: string, detail: string | undefined, at: ErrorLocation | undefined): string {
  const where: string[] = [];
  if (at?.file !== undefined) where.push(at.file);
  if (at?.line !== undefined) where.push(`line ${at.line}`);
  if (at?.column !== undefined) where.push(`column ${at.column}`);
  if (at?.field !== undefined) where.push(`field "${at.field}"`);
  const prefix = where.length > 0 ? `${where.join(', ')}: ` : '';
  return `${prefix}${base}${detail ? `: ${detail}` : ''}`;
}

export function isIndomainError(e: unknown): e is IndomainError {
  return e instanceof IndomainError;
}

/** The wire form of any failure: a coded error as it is, anything else as SRV_INTERNAL with its message. */
export function errorJson(e: unknown): { code: string; message: string } {
  return isIndomainError(e) ? e.toJSON() : { code: 'SRV_INTERNAL', message: e instanceof Error ? e.message : String(e) };
}
