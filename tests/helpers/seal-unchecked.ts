/**
 * The attack with the defence off, in a worker thread (tests/helpers/seal-unchecked-worker.mjs):
 * the malformed ciphertexts of tests/helpers/malformed-seal.ts go straight to SEAL's `loadArray`,
 * each exception caught (what `deserialize` did before protocols/he/wire.ts), and after each one
 * a valid ciphertext is loaded and decrypted. Posts how many inputs SEAL took before that failed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { seededRng } from '../../engine/rng.ts';
import { createCkks, decryptorFor, encryptVector, generateKeys, importPublicKeys, serialize, zeroCiphertexts } from '../../protocols/he/ckks.ts';
import { malformed, type SealTemplate } from './malformed-seal.ts';

export interface UncheckedResult {
  /** Inputs given to SEAL until a round trip failed (undefined: it survived them all). */
  readonly diedAfter: number | undefined;
  readonly caught: number;
  /** Caught exceptions that were emscripten's "Aborted()". */
  readonly aborts: number;
}

const { count, seed } = workerData as { count: number; seed: string };
const ckks = await createCkks('ckks-n8192-l1');
const owner = generateKeys(ckks);
const ev = importPublicKeys(ckks, owner.publicKey, owner.galoisKeys);
const dec = decryptorFor(ckks, owner);
const fresh = serialize(ckks, encryptVector(ev, Float64Array.of(1, 2, 3)));
const data = ckks.context.firstContextData;
const level = { primes: Array.from(data.parms.coeffModulus), degree: data.parms.polyModulusDegree, scaled: true, otherIds: [new Uint8Array(ckks.context.keyParmsId.values.slice().buffer)] };
// The same templates as the defended run: a fresh ciphertext and a seeded encryption of zero.
const templates: SealTemplate[] = [{ bytes: fresh, ...level }, { bytes: zeroCiphertexts(ckks, owner, 1)[0]!, ...level }];

function works(): boolean {
  try {
    const c = ckks.seal.CipherText();
    c.loadArray(ckks.context, fresh);
    const v = dec.decrypt(c, 1)[0]!;
    c.delete();
    return Math.abs(v - 1) < 1e-6;
  } catch {
    return false;
  }
}

let given = 0;
let caught = 0;
let aborts = 0;
let diedAfter: number | undefined;
for (const { bytes } of malformed(templates, count, seededRng(seed))) {
  given++;
  try {
    const c = ckks.seal.CipherText();
    try {
      c.loadArray(ckks.context, bytes);
      c.delete();
    } catch (e) {
      caught++;
      if (/Aborted/.test(String(e))) aborts++;
      c.delete();
    }
  } catch {
    // SEAL could not even allocate a ciphertext: dead.
  }
  if (!works()) {
    diedAfter = given;
    break;
  }
}
parentPort!.postMessage({ diedAfter, caught, aborts } satisfies UncheckedResult);
