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
    "the CKKS parameter set, public key and Galois (rotation) keys of the arbiter (no secret key; empty where the pipeline has no scorecard stage, which alone uses them), and a random seed from which the receiver's half of the cross-Gram triple and every pad of its shared rounds derive (independent of all data; each party's seed is its own, known to the arbiter)",
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
  fields: { rows: 'int', sampleRows: 'int', gram: 'f64', crossShare: 'bytes', crossBits: 'int', ringBits: 'int' },
  discloses:
    "row count, the Gram matrix XᵀX of host features over the sample rows (one sum per feature pair), the host's share of the cross Gram (uniformly masked; only the sum of both shares means anything), and the fixed-point bits of its columns in the round products (⌈log₂ of its largest column norm⌉, as the Gram's diagonal gives)",
});

export const GuestInit = declareMessage({
  protocol: VFL,
  type: 'GuestInit',
  from: 'guest',
  to: ['arbiter'],
  privacy: 'aggregate',
  fields: { rows: 'int', sampleRows: 'int', eventRate: 'number', gram: 'f64', crossShare: 'bytes', crossBits: 'int', ringBits: 'int' },
  discloses:
    "row count, training event rate, the Gram matrix of guest features over the sample rows, and the guest's share of the guest×host cross Gram over the same rows (with the host's share: that Gram, one sum per feature pair), and the fixed-point bits of its columns (⌈log₂ of its largest column norm⌉)",
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

export const GuestColumns = declareMessage({
  protocol: VFL,
  type: 'GuestColumns',
  from: 'guest',
  to: ['host'],
  privacy: 'ciphertext',
  fields: { chunk: 'int', columns: 'bytes' },
  discloses:
    "nothing: the guest's columns (intercept first) on one part of the rows (`chunk`), in fixed point under a one-time pad in Z_M (M ≈ 2^105, protocols/mpc/rns.ts) from an AES-256-CTR keystream whose seed only the arbiter and the guest hold; sent once, used as the masked operand of every round's cross products",
});

export const HostColumns = declareMessage({
  protocol: VFL,
  type: 'HostColumns',
  from: 'host',
  to: ['guest'],
  privacy: 'ciphertext',
  fields: { chunk: 'int', columns: 'bytes' },
  discloses: "nothing: the host's columns on one part of the rows, in fixed point under a one-time pad in Z_M whose seed only the arbiter and the host hold; sent once",
});

export const BasisSize = declareMessage({
  protocol: VFL,
  type: 'BasisSize',
  from: 'host',
  to: ['arbiter'],
  privacy: 'metadata',
  fields: { vectors: 'int' },
  discloses: "how many basis vectors the host's round has (from its windows' count and degrees), so that the arbiter can deal the round's multiplication triples",
});

export const BeaverCorrection = declareMessage({
  protocol: VFL,
  type: 'BeaverCorrection',
  from: 'arbiter',
  to: ['host'],
  privacy: 'ciphertext',
  fields: { chunk: 'int', correction: 'bytes' },
  discloses:
    "nothing: per row of one part, the host's share of Σ_v A_v·B'_v, the product of the guest's and the host's masks for this round (a Beaver triple), itself masked by the guest's share from a seed only the arbiter and the guest hold: uniform in Z_M",
});

export const HostBasis = declareMessage({
  protocol: VFL,
  type: 'HostBasis',
  from: 'host',
  to: ['guest'],
  privacy: 'ciphertext',
  fields: { sigmoidTolerance: 'number', hessian: 'boolean', centres: 'number[]', halfWidths: 'number[]', chunk: 'int', basis: 'bytes' },
  discloses:
    "sent in parts, one part of the rows each (`chunk`; row positions in the aligned order, which both parties know); whether this round computes the weighted Hessian (from RoundStart); the host's sigmoid windows: at most maxWindows intervals [centre ± halfWidth] of its partial logits, edges on a 0.5-logit grid, that together hold every row and each hold at least one (a coarse picture of where the host partial logits lie, from which the number of windows and their spread follow), but not which row is in which window; the round's sigmoid tolerance (from RoundStart); the per-enterprise windowed Chebyshev basis and window indicators only under a one-time pad in Z_M (fixed point at 2^26) from a seed only the arbiter and the host hold, fresh per round and part (protocols/vfl-lr/windows.ts, shares.ts)",
});

export const Residual = declareMessage({
  protocol: VFL,
  type: 'Residual',
  from: 'guest',
  to: ['host'],
  privacy: 'ciphertext',
  fields: { chunk: 'int', coefficients: 'bytes', share: 'bytes' },
  discloses:
    "which part of the rows it answers (one per HostBasis part, in order); nothing else: the guest's per-row Chebyshev coefficients under a one-time pad in Z_M (the masked operand of the round's Beaver products), and the guest's share of the per-row residual σ(z) − y under a second pad, both from seeds only the arbiter and the guest hold, fresh per round and part (tests/attacks/residual-shares.test.ts)",
});

export const ResidualShare = declareMessage({
  protocol: VFL,
  type: 'ResidualShare',
  from: 'host',
  to: ['guest'],
  privacy: 'ciphertext',
  fields: { chunk: 'int', share: 'bytes' },
  discloses:
    "nothing: the host's share of the per-row residual on one part of the rows, under a one-time pad in Z_M from a seed only the arbiter and the host hold, fresh per round and part (with the guest's own share unmasked it would give σ(z) − y, hence the host's partial logits: tests/attacks/residual-shares.test.ts)",
});

export const GuestGradient = declareMessage({
  protocol: VFL,
  type: 'GuestGradient',
  from: 'guest',
  to: ['arbiter'],
  privacy: 'aggregate',
  fields: { share: 'bytes' },
  discloses:
    "the guest's shares of the gradient sums Xᵀ(σ(z) − y) for every weight (guest and host), each masked by a per-round value in Z_M that only the host's shares cancel (a seed the guest sent the host): with the host's shares and the arbiter's own triple terms, the gradient (one sum over all rows per weight)",
});

export const HostGradient = declareMessage({
  protocol: VFL,
  type: 'HostGradient',
  from: 'host',
  to: ['arbiter'],
  privacy: 'aggregate',
  fields: { share: 'bytes' },
  discloses: "the host's shares of the gradient sums for every weight, masked by the negative of the guest's per-round mask: with the guest's shares, the gradient (one sum over all rows per weight)",
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
