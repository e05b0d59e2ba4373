/**
 * Messages of secure aggregation (protocol `secagg`), with what each receiver learns. See
 * `protocol.ts` for the flow. Banks never talk to each other directly: the coordinator relays the
 * shares, sealed for their recipient.
 */
import { declareMessage } from '../message.ts';

export const SECAGG = 'secagg';

export const AdvertiseKeys = declareMessage({
  protocol: SECAGG,
  type: 'AdvertiseKeys',
  from: 'bank',
  to: ['coordinator'],
  privacy: 'metadata',
  fields: { sealKey: 'bytes', maskKey: 'bytes' },
  discloses: "the bank's two fresh X25519 public keys for this aggregation (one to seal shares, one to agree pairwise masks)",
});

export const KeyList = declareMessage({
  protocol: SECAGG,
  type: 'KeyList',
  from: 'coordinator',
  to: ['bank'],
  privacy: 'metadata',
  fields: { banks: 'string[]', sealKeys: 'bytes[]', maskKeys: 'bytes[]' },
  discloses: "which banks take part in this aggregation and their public keys",
});

export const ShareKeys = declareMessage({
  protocol: SECAGG,
  type: 'ShareKeys',
  from: 'bank',
  to: ['coordinator'],
  privacy: 'ciphertext',
  fields: { to: 'string[]', sealed: 'bytes[]' },
  discloses:
    "nothing readable: for each other bank, Shamir shares of the sender's mask secret key and self-mask seed, sealed (AES-256-GCM) under a key only the sender and that bank agree",
});

export const Shares = declareMessage({
  protocol: SECAGG,
  type: 'Shares',
  from: 'coordinator',
  to: ['bank'],
  privacy: 'ciphertext',
  fields: { banks: 'string[]', sealed: 'bytes[]' },
  discloses:
    "which banks sent shares; after opening, one Shamir share (below the threshold: uniform) of each such bank's mask secret key and self-mask seed",
});

export const MaskedInput = declareMessage({
  protocol: SECAGG,
  type: 'MaskedInput',
  from: 'bank',
  to: ['coordinator'],
  privacy: 'masked',
  fields: { masked: 'f64' },
  discloses:
    "the bank's fixed-point input plus its self-mask and its pairwise masks with every other bank, modulo 2^52: uniform to the coordinator on its own",
});

export const Survivors = declareMessage({
  protocol: SECAGG,
  type: 'Survivors',
  from: 'coordinator',
  to: ['bank'],
  privacy: 'metadata',
  fields: { banks: 'string[]' },
  discloses: 'which banks sent a masked input (the others dropped out)',
});

export const Unmask = declareMessage({
  protocol: SECAGG,
  type: 'Unmask',
  from: 'bank',
  to: ['coordinator'],
  privacy: 'masked',
  fields: { banks: 'string[]', kinds: 'string[]', shares: 'bytes[]' },
  discloses:
    "the sender's Shamir share of each surviving bank's self-mask seed and of each dropped bank's mask secret key, never both for one bank: with the threshold's worth, the coordinator removes the masks and learns the sum only",
});

export const Result = declareMessage({
  protocol: SECAGG,
  type: 'Result',
  from: 'coordinator',
  to: ['bank'],
  privacy: 'aggregate',
  fields: { sum: 'f64', banks: 'string[]' },
  discloses: 'the sum of the surviving banks’ inputs and which banks it covers',
});
