/**
 * Messages of vertical logistic regression (protocol `vfl-lr`), with what each receiver learns.
 * See `protocol.ts` for the flow.
 */
import { declareMessage } from '../message.ts';

export const VFL = 'vfl-lr';

export const HeSetup = declareMessage({
  protocol: VFL,
  type: 'HeSetup',
  from: 'arbiter',
  to: ['guest', 'host'],
  privacy: 'metadata',
  fields: { params: 'string', publicKey: 'bytes', galoisKeys: 'bytes', tripleSeed: 'bytes' },
  discloses:
    "the CKKS parameter set, public key and Galois (rotation) keys of the arbiter (no secret key), and a random seed for the receiver's half of the cross-Gram multiplication triple (independent of all data; each party's seed is its own)",
});

export const GuestPaddedSample = declareMessage({
  protocol: VFL,
  type: 'GuestPaddedSample',
  from: 'guest',
  to: ['host'],
  privacy: 'ciphertext',
  fields: { padded: 'bytes', maskSeed: 'bytes' },
  discloses:
    'nothing: guest sample columns in fixed point under a pad mod 2^32 from an AES-256-CTR keystream whose seed only the arbiter holds (computationally hiding from the host; the same trust as the CKKS key), and a random seed for the output masks',
});

export const HostPaddedSample = declareMessage({
  protocol: VFL,
  type: 'HostPaddedSample',
  from: 'host',
  to: ['guest'],
  privacy: 'ciphertext',
  fields: { padded: 'bytes' },
  discloses:
    'nothing: host sample columns in fixed point under a pad mod 2^32 from an AES-256-CTR keystream whose seed only the arbiter holds (computationally hiding from the guest; the same trust as the CKKS key)',
});

export const HostInit = declareMessage({
  protocol: VFL,
  type: 'HostInit',
  from: 'host',
  to: ['arbiter'],
  privacy: 'aggregate',
  fields: { rows: 'int', sampleRows: 'int', gram: 'f64', crossShare: 'bytes', crossBits: 'int' },
  discloses:
    "row count, the Gram matrix XᵀX of host features over the sample rows (one sum per feature pair), and the host's share of the cross Gram (uniformly masked; only the sum of both shares means anything)",
});

export const GuestInit = declareMessage({
  protocol: VFL,
  type: 'GuestInit',
  from: 'guest',
  to: ['arbiter'],
  privacy: 'aggregate',
  fields: { rows: 'int', sampleRows: 'int', eventRate: 'number', gram: 'f64', crossShare: 'bytes', crossBits: 'int' },
  discloses:
    "row count, training event rate, the Gram matrix of guest features over the sample rows, and the guest's share of the guest×host cross Gram over the same rows (with the host's share: that Gram, one sum per feature pair)",
});

export const RoundStart = declareMessage({
  protocol: VFL,
  type: 'RoundStart',
  from: 'arbiter',
  to: ['host'],
  privacy: 'metadata',
  fields: { sigmoidTolerance: 'number', hessian: 'boolean' },
  discloses:
    "that a new round starts, and the round's sigmoid tolerance: a step of a fixed ladder (1e-2, 3e-3, 1e-3, …) at or below the previous gradient's ∞-norm, so the order of magnitude of the gradient (the host's own steps shrink with it too); whether this round also computes the one weighted Hessian of the run (once, when the gradient first falls below config.hessianGradient)",
});

export const ZeroRequest = declareMessage({
  protocol: VFL,
  type: 'ZeroRequest',
  from: 'host',
  to: ['arbiter'],
  privacy: 'metadata',
  fields: { count: 'int' },
  discloses: "how many encryptions of zero the host's next basis needs (its number of basis vectors, from its windows' degrees, times the ciphertexts per vector)",
});

export const Zeros = declareMessage({
  protocol: VFL,
  type: 'Zeros',
  from: 'arbiter',
  to: ['host'],
  privacy: 'ciphertext',
  fields: { zeros: 'bytes[]' },
  discloses: "nothing: fresh encryptions of zero under the arbiter's key (RLWE samples), which the host adds its encoded basis to",
});

export const HostBasis = declareMessage({
  protocol: VFL,
  type: 'HostBasis',
  from: 'host',
  to: ['guest'],
  privacy: 'ciphertext',
  fields: { sigmoidTolerance: 'number', hessian: 'boolean', centres: 'number[]', halfWidths: 'number[]', chunk: 'int', basis: 'bytes[][]' },
  discloses:
    "sent in parts, one chunk of rows (the CKKS slot count) each, part `chunk` holding every basis vector on that chunk's rows (row positions in the aligned order, which both parties know; the part count follows from the row count); whether this round computes the weighted Hessian (from RoundStart); the host's sigmoid windows: at most maxWindows intervals [centre ± halfWidth] of its partial logits, edges on a 0.5-logit grid, that together hold every row and each hold at least one (a coarse picture of where the host partial logits lie, from which the number of windows and their spread follow), but not which row is in which window; the round's sigmoid tolerance (from RoundStart); the per-enterprise windowed Chebyshev basis and window indicators stay encrypted under the arbiter key (protocols/vfl-lr/windows.ts)",
});

export const Residual = declareMessage({
  protocol: VFL,
  type: 'Residual',
  from: 'guest',
  to: ['host'],
  privacy: 'ciphertext',
  fields: { chunk: 'int', chunks: 'bytes[]' },
  discloses:
    "which chunk of rows the part starts at (one part per HostBasis part, in order); nothing else without the arbiter's key: per-enterprise residuals σ(z) − y under the arbiter key, re-randomised so that no residual is a combination of the host's own basis ciphertexts (tests/attacks/linear-span.test.ts)",
});

export const GuestGradient = declareMessage({
  protocol: VFL,
  type: 'GuestGradient',
  from: 'guest',
  to: ['arbiter'],
  privacy: 'aggregate',
  fields: { gradient: 'bytes' },
  discloses: 'after decryption, the gradient of the objective for the guest weights (one sum over all rows per weight)',
});

export const HostGradient = declareMessage({
  protocol: VFL,
  type: 'HostGradient',
  from: 'host',
  to: ['arbiter'],
  privacy: 'aggregate',
  fields: { gradient: 'bytes' },
  discloses: 'after decryption, the gradient of the objective for the host weights (one sum over all rows per weight)',
});

export const Update = declareMessage({
  protocol: VFL,
  type: 'Update',
  from: 'arbiter',
  to: ['guest', 'host'],
  privacy: 'model',
  fields: { step: 'f64' },
  discloses: "the move of the receiver's own weights only (a new quasi-Newton step or a line-search trial along it)",
});

export const Finished = declareMessage({
  protocol: VFL,
  type: 'Finished',
  from: 'arbiter',
  to: ['guest', 'host'],
  privacy: 'metadata',
  fields: { converged: 'boolean', iterations: 'int', gradientNorm: 'number' },
  discloses: 'whether training converged, the iteration count and the final gradient norm',
});

export const GuestHessianPadded = declareMessage({
  protocol: VFL,
  type: 'GuestHessianPadded',
  from: 'guest',
  to: ['host'],
  privacy: 'ciphertext',
  fields: { gh: 'bytes', gg: 'bytes', hh: 'bytes', ghMask: 'bytes', ggMask: 'bytes', hhMask: 'bytes' },
  discloses:
    "nothing: the guest's side of the three Hessian blocks (its sample columns, their pairwise products and ones, times its per-sample σ′ coefficients, protocols/vfl-lr/hessian.ts) in fixed point under one-time pads mod 2^32 from AES-256-CTR keystreams whose seeds only the arbiter and the guest hold (fresh per block and round), an empty block where it is over the size budget, and fresh seeds of the output masks R",
});

export const HostHessianPadded = declareMessage({
  protocol: VFL,
  type: 'HostHessianPadded',
  from: 'host',
  to: ['guest'],
  privacy: 'ciphertext',
  fields: { gh: 'bytes', gg: 'bytes', hh: 'bytes' },
  discloses:
    "nothing: the host's side of the three Hessian blocks (its sample columns, their pairwise products and ones, times its plaintext basis vectors on the sample rows) in fixed point under one-time pads mod 2^32 whose seeds only the arbiter and the host hold (fresh per block and round), an empty block where it is over the size budget",
});

export const GuestHessianShare = declareMessage({
  protocol: VFL,
  type: 'GuestHessianShare',
  from: 'guest',
  to: ['arbiter'],
  privacy: 'aggregate',
  fields: { rows: 'int', shares: 'bytes[]', bits: 'number[]', columns: 'number[]', exponents: 'number[][]' },
  discloses:
    "the guest's shares of the weighted Hessian blocks over the sample rows, each masked by a uniform R that only the host's share cancels (with the host's: the blocks XᵀWX/m, one sum per feature pair, and Σw), the stacked row count (sample rows × (basis vectors + 1)), and per stacked column the power of two that scaled it (its norm to within a factor of two)",
});

export const HostHessianShare = declareMessage({
  protocol: VFL,
  type: 'HostHessianShare',
  from: 'host',
  to: ['arbiter'],
  privacy: 'aggregate',
  fields: { rows: 'int', shares: 'bytes[]', bits: 'number[]', columns: 'number[]', exponents: 'number[][]' },
  discloses: "the host's shares of the weighted Hessian blocks (masked by −R; with the guest's: the blocks, one sum per feature pair), the stacked row count, and per stacked column the power of two that scaled it (its norm to within a factor of two)",
});
