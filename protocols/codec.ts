/**
 * The wire codec: MessagePack via msgpackr with typed-array extensions.
 *
 * A default msgpackr `pack(new Float64Array(...))` silently truncates every double to one byte;
 * `moreTypes: true` encodes typed arrays as MessagePack extensions with their element type, so a
 * Float64Array round-trips bit for bit. `tests/protocols/codec.test.ts` checks every typed array
 * the protocols send.
 */
import { Packr } from 'msgpackr';
import { IndomainError } from '../engine/errors.ts';
import type { Envelope } from './message.ts';

const packr = new Packr({ moreTypes: true, useRecords: false, structuredClone: false });

export function encodeMessage(env: Envelope): Uint8Array {
  return packr.pack(env);
}

/** Decode wire bytes; malformed bytes are a coded error, never a crash. */
export function decodeMessage(bytes: Uint8Array): Envelope {
  let v: unknown;
  try {
    v = packr.unpack(bytes);
  } catch (e) {
    throw new IndomainError('SRV_MALFORMED_BODY', `malformed msgpack: ${(e as Error).message}`);
  }
  const env = v as Envelope;
  if (
    typeof env !== 'object' ||
    env === null ||
    typeof env.job !== 'string' ||
    typeof env.protocol !== 'string' ||
    typeof env.type !== 'string' ||
    typeof env.from !== 'string' ||
    typeof env.to !== 'string' ||
    !Number.isSafeInteger(env.round) ||
    typeof env.body !== 'object' ||
    env.body === null ||
    Array.isArray(env.body)
  ) {
    throw new IndomainError('SRV_MALFORMED_BODY', 'envelope lacks job/protocol/type/round/from/to/body');
  }
  return env;
}

export function pack(value: unknown): Uint8Array {
  return packr.pack(value);
}

export function unpack<T>(bytes: Uint8Array): T {
  return packr.unpack(bytes) as T;
}
