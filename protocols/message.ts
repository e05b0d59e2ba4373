/**
 * What crosses a node boundary, declared once.
 *
 * Every protocol lists its message types in its own `messages.ts` with {@link declareMessage}: the
 * sender and receiver roles, the body's fields and their wire kinds, the privacy class, and a
 * sentence saying what the receiver learns. The wire codec, the transports, the audit log and the
 * privacy tests all read these declarations; a message whose type is not declared is refused.
 */
import { IndomainError, type ErrorCode } from '../engine/errors.ts';

/**
 * How sensitive a message body is:
 * - `ciphertext`: encrypted under a key the receiver does not hold;
 * - `masked`: values hidden by randomness only the sender knows;
 * - `aggregate`: sums or statistics over many enterprises;
 * - `model`: model parameters or parameter updates;
 * - `score`: a model's partial output per enterprise (a party's partial logit or points), released
 *   only for scoring and validating a model the receiver is entitled to use;
 * - `blinded-ids`: identifiers blinded by a secret exponent;
 * - `metadata`: public material: keys, parameters, sizes, control.
 */
export type PrivacyClass = 'ciphertext' | 'masked' | 'aggregate' | 'model' | 'score' | 'blinded-ids' | 'metadata';

export const PRIVACY_CLASSES: readonly PrivacyClass[] = ['ciphertext', 'masked', 'aggregate', 'model', 'score', 'blinded-ids', 'metadata'];

/** Wire kinds of plain body fields. */
export type ScalarKind = 'int' | 'number' | 'string' | 'boolean' | 'bytes' | 'bytes[]' | 'bytes[][]' | 'f64' | 'number[]' | 'number[][]' | 'string[]';

/** A string that must be one of a closed list (an error code, a stage name). */
export interface OneOfKind {
  readonly oneOf: readonly string[];
}

/**
 * A nested object with declared sub-fields, checked like a body: exactly these sub-fields, each of
 * its kind; those named in `optional` may be absent. Structured content is declared this way, never
 * as JSON inside a `string` field, which no gate can see into.
 */
export interface RecordKind {
  readonly record: Fields;
  readonly optional?: readonly string[];
}

/** A list of nested objects, each with exactly the declared sub-fields. */
export interface RecordsKind {
  readonly records: Fields;
}

/** Wire kinds of body fields. */
export type FieldKind = ScalarKind | OneOfKind | RecordKind | RecordsKind;
export type Fields = Readonly<Record<string, FieldKind>>;

/** A field of `values` only. */
export const oneOf = <const V extends readonly string[]>(values: V): OneOfKind => ({ oneOf: values });
/** A nested object with exactly these sub-fields (those in `optional` may be absent). */
export const record = (fields: Fields, optional: readonly string[] = []): RecordKind => ({ record: fields, optional });
/** A list of nested objects with exactly these sub-fields. */
export const records = (fields: Fields): RecordsKind => ({ records: fields });

export interface MessageSpec {
  readonly protocol: string;
  readonly type: string;
  readonly from: string | readonly string[];
  readonly to: readonly string[];
  readonly privacy: PrivacyClass;
  readonly fields: Fields;
  /** What the receiver learns, in one sentence (goes into the disclosure ledger). */
  readonly discloses: string;
}

const REGISTRY = new Map<string, MessageSpec>();

function key(protocol: string, type: string): string {
  return `${protocol}/${type}`;
}

export function declareMessage<const S extends MessageSpec>(spec: S): S {
  const k = key(spec.protocol, spec.type);
  if (REGISTRY.has(k)) throw new Error(`message ${k} declared twice`);
  REGISTRY.set(k, spec);
  return spec;
}

export function messageSpec(protocol: string, type: string): MessageSpec {
  const s = REGISTRY.get(key(protocol, type));
  if (!s) throw new IndomainError('SRV_UNDECLARED_MESSAGE', `${key(protocol, type)}`);
  return s;
}

export function declaredMessages(): MessageSpec[] {
  return [...REGISTRY.values()];
}

/** A message in flight. */
export interface Envelope {
  readonly job: string;
  readonly protocol: string;
  readonly type: string;
  readonly round: number;
  readonly from: string;
  readonly to: string;
  readonly body: Readonly<Record<string, unknown>>;
}

/**
 * Check a body against its declaration: every declared field present with its kind, nothing
 * else, nested records likewise. Refusal names the message and the field (a dotted path for a
 * sub-field), never a value.
 */
export function validateBody(spec: MessageSpec, body: unknown, code: ErrorCode): void {
  const where = `${spec.protocol}/${spec.type}`;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new IndomainError(code, `${where}: body is not an object`);
  }
  checkObject(where, spec.fields, [], body as Record<string, unknown>, '', code);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

function checkObject(where: string, fields: Fields, optional: readonly string[], b: Record<string, unknown>, path: string, code: ErrorCode): void {
  for (const [name, kind] of Object.entries(fields)) {
    const field = path + name;
    if (!(name in b)) {
      if (optional.includes(name)) continue;
      throw new IndomainError(code, `${where}: missing field`, { field });
    }
    checkField(where, kind, b[name], field, code);
  }
  for (const name of Object.keys(b)) {
    if (!Object.hasOwn(fields, name)) throw new IndomainError(code, `${where}: undeclared field`, { field: path + name });
  }
}

function checkField(where: string, kind: FieldKind, v: unknown, field: string, code: ErrorCode): void {
  if (typeof kind === 'string') {
    if (!hasKind(v, kind)) throw new IndomainError(code, `${where}: expected ${kind}, got ${describe(v)}`, { field });
    return;
  }
  if ('oneOf' in kind) {
    if (typeof v !== 'string' || !kind.oneOf.includes(v)) throw new IndomainError(code, `${where}: not one of the ${kind.oneOf.length} declared values`, { field });
    return;
  }
  if ('record' in kind) {
    if (!isPlainObject(v)) throw new IndomainError(code, `${where}: expected a record, got ${describe(v)}`, { field });
    checkObject(where, kind.record, kind.optional ?? [], v, `${field}.`, code);
    return;
  }
  if (!Array.isArray(v)) throw new IndomainError(code, `${where}: expected a list of records, got ${describe(v)}`, { field });
  v.forEach((r, i) => {
    if (!isPlainObject(r)) throw new IndomainError(code, `${where}: expected a record, got ${describe(r)}`, { field: `${field}[${i}]` });
    checkObject(where, kind.records, [], r, `${field}[${i}].`, code);
  });
}

function hasKind(v: unknown, kind: ScalarKind): boolean {
  switch (kind) {
    case 'int':
      return Number.isSafeInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'string':
      return typeof v === 'string';
    case 'boolean':
      return typeof v === 'boolean';
    case 'bytes':
      return v instanceof Uint8Array;
    case 'bytes[]':
      return Array.isArray(v) && v.every((x) => x instanceof Uint8Array);
    case 'bytes[][]':
      return Array.isArray(v) && v.every((r) => Array.isArray(r) && r.every((x) => x instanceof Uint8Array));
    case 'f64':
      return v instanceof Float64Array && v.every(Number.isFinite);
    case 'number[]':
      return isNumbers(v);
    case 'number[][]':
      return Array.isArray(v) && v.every(isNumbers);
    case 'string[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'string');
  }
}

function isNumbers(v: unknown): boolean {
  return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `array(${v.length})`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as Uint8Array).length})`;
  return typeof v;
}
