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

/** Wire kinds of body fields. */
export type FieldKind = 'int' | 'number' | 'string' | 'boolean' | 'bytes' | 'bytes[]' | 'bytes[][]' | 'f64' | 'number[]' | 'string[]';

export interface MessageSpec {
  readonly protocol: string;
  readonly type: string;
  readonly from: string | readonly string[];
  readonly to: readonly string[];
  readonly privacy: PrivacyClass;
  readonly fields: Readonly<Record<string, FieldKind>>;
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
 * else. Refusal names the message and the field.
 */
export function validateBody(spec: MessageSpec, body: unknown, code: ErrorCode): void {
  const where = `${spec.protocol}/${spec.type}`;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new IndomainError(code, `${where}: body is not an object`);
  }
  const b = body as Record<string, unknown>;
  for (const [name, kind] of Object.entries(spec.fields)) {
    if (!(name in b)) throw new IndomainError(code, `${where}: missing field`, { field: name });
    if (!hasKind(b[name], kind)) {
      throw new IndomainError(code, `${where}: expected ${kind}, got ${describe(b[name])}`, { field: name });
    }
  }
  for (const name of Object.keys(b)) {
    if (!(name in spec.fields)) throw new IndomainError(code, `${where}: undeclared field`, { field: name });
  }
}

function hasKind(v: unknown, kind: FieldKind): boolean {
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
      return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
    case 'string[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'string');
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `array(${v.length})`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as Uint8Array).length})`;
  return typeof v;
}
