/**
 * Messages of secure aggregation (protocol `secagg`), with what each receiver learns. See
 * `protocol.ts` for the flow. Banks never talk to each other directly: the coordinator relays the
 * shares, sealed for their recipient. Round 0 is the job's key set-up; rounds 1, 2, … aggregate.
 */
import { declareMessage } from '../message.ts';

export const SECAGG = 'secagg';

export const AdvertiseKeys = declareMessage({
  protocol: SECAGG,
  type: 'AdvertiseKeys',
  from: 'bank',
  to: ['coordinator'],
  privacy: 'metadata',
  fields: { sealKey: 'bytes', maskKey: 'bytes', signature: 'bytes' },
  discloses:
    "the bank's two fresh X25519 public keys for this job (one to seal shares, one to agree pairwise mask keys) and its Ed25519 signature of them under its node identity (empty when the job has no identities)",
});

export const KeyList = declareMessage({
  protocol: SECAGG,
  type: 'KeyList',
  from: 'coordinator',
  to: ['bank'],
  privacy: 'metadata',
  fields: { banks: 'string[]', sealKeys: 'bytes[]', maskKeys: 'bytes[]', signatures: 'bytes[]' },
  discloses: 'which banks advertised keys for this job, their public keys and each bank’s signature of its own keys',
});

export const ShareKeys = declareMessage({
  protocol: SECAGG,
  type: 'ShareKeys',
  from: 'bank',
  to: ['coordinator'],
  privacy: 'ciphertext',
  fields: { to: 'string[]', sealed: 'bytes[]' },
  discloses:
    "nothing readable: for each other bank, a Shamir share of the sender's mask secret key for the job, sealed (AES-256-GCM) under a key only the sender and that bank agree",
});

export const Shares = declareMessage({
  protocol: SECAGG,
  type: 'Shares',
  from: 'coordinator',
  to: ['bank'],
  privacy: 'ciphertext',
  fields: { banks: 'string[]', sealed: 'bytes[]' },
  discloses:
    "which banks are members of the job's aggregations; after opening, one Shamir share (below the threshold: uniform) of each member's mask secret key",
});

export const MaskedInput = declareMessage({
  protocol: SECAGG,
  type: 'MaskedInput',
  from: 'bank',
  to: ['coordinator'],
  privacy: 'masked',
  fields: { masked: 'f64', to: 'string[]', sealed: 'bytes[]' },
  discloses:
    "the bank's fixed-point input of this round plus its fresh self-mask and its pairwise masks with every live member, modulo 2^52 (uniform to the coordinator on its own); and, sealed for each other live member so that the coordinator cannot open them, Shamir shares of this round's self-mask seed",
});

export const Survivors = declareMessage({
  protocol: SECAGG,
  type: 'Survivors',
  from: 'coordinator',
  to: ['bank'],
  privacy: 'ciphertext',
  fields: { banks: 'string[]', sealed: 'bytes[]' },
  discloses:
    "which live members sent a masked input this round (the others dropped out for the rest of the job); after opening, one Shamir share (below the threshold: uniform) of each such bank's self-mask seed of this round",
});

export const Unmask = declareMessage({
  protocol: SECAGG,
  type: 'Unmask',
  from: 'bank',
  to: ['coordinator'],
  privacy: 'masked',
  fields: { banks: 'string[]', kinds: 'string[]', shares: 'bytes[]' },
  discloses:
    "the sender's Shamir share of each surviving bank's self-mask seed of this round and of each dropped bank's mask secret key, never both for one bank in a job: with the threshold's worth, the coordinator removes the masks and learns the round's sum only",
});

export const Result = declareMessage({
  protocol: SECAGG,
  type: 'Result',
  from: 'coordinator',
  to: ['bank'],
  privacy: 'aggregate',
  fields: { sum: 'f64', banks: 'string[]' },
  discloses: 'which banks this round’s sum covers and, when it covers at least three banks, the sum of their inputs (a sum over two would give each of them the other’s input; it is withheld, empty)',
});
