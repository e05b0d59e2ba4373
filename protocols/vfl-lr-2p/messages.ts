/**
 * Messages of two-party vertical logistic regression (protocol `vfl-lr-2p`), with what each
 * receiver learns. The guest (bank) owns the only CKKS key pair; see `protocol.ts` for the flow.
 */
import { declareMessage } from '../message.ts';

export const VFL2 = 'vfl-lr-2p';

export const TwoPartySetup = declareMessage({
  protocol: VFL2,
  type: 'TwoPartySetup',
  from: 'guest',
  to: ['host'],
  privacy: 'metadata',
  fields: { params: 'string', publicKey: 'bytes', galoisKeys: 'bytes', relinKeys: 'bytes', rows: 'int', sampleRows: 'int' },
  discloses:
    "the CKKS parameter set, the guest's public key, Galois (rotation) and relinearisation keys (no secret key), the aligned row count and how many of the first rows make the initial Hessian's sample",
});

export const GuestSample = declareMessage({
  protocol: VFL2,
  type: 'GuestSample',
  from: 'guest',
  to: ['host'],
  privacy: 'ciphertext',
  fields: { columns: 'bytes[]' },
  discloses: "nothing: the guest's sample columns (intercept first) encrypted under the guest's own key, which the host does not hold",
});

export const GuestColumns = declareMessage({
  protocol: VFL2,
  type: 'GuestColumns',
  from: 'guest',
  to: ['host'],
  privacy: 'ciphertext',
  fields: { diagonals: 'bytes[][]' },
  discloses: "nothing: the guest's columns over all rows (intercept first, divided by √n) in diagonal order, encrypted once per job under the guest's own key, which the host does not hold",
});

export const HostSampleGram = declareMessage({
  protocol: VFL2,
  type: 'HostSampleGram',
  from: 'host',
  to: ['guest'],
  privacy: 'aggregate',
  fields: { gram: 'f64', cross: 'bytes[]' },
  discloses:
    "the Gram matrix of the host's secretly rotated columns X_H Aᵀ over the sample rows (A X_HᵀX_H Aᵀ: its eigenvalues, not which platform feature carries what) and, after decryption, the cross Gram of the guest's sample columns with the rotated host columns (one sum per column pair, noise-flooded by the host)",
});

export const RoundStart2 = declareMessage({
  protocol: VFL2,
  type: 'RoundStart',
  from: 'guest',
  to: ['host'],
  privacy: 'metadata',
  fields: { sigmoidTolerance: 'number' },
  discloses:
    "that a new round starts, and its sigmoid tolerance: a step of a fixed ladder (1e-2, 3e-3, 1e-3, …) at or below the previous gradient's ∞-norm, so the order of magnitude of the gradient",
});

export const HostWindows = declareMessage({
  protocol: VFL2,
  type: 'HostWindows',
  from: 'host',
  to: ['guest'],
  privacy: 'aggregate',
  fields: { sigmoidTolerance: 'number', centres: 'number[]', halfWidths: 'number[]' },
  discloses:
    "the host's sigmoid windows: at most maxWindows intervals [centre ± halfWidth] of its partial logits, edges on a 0.5-logit grid, that together hold every row and each hold at least one (a coarse picture of where the host partial logits lie), not which row is in which window; the round's tolerance echoed",
});

export const GuestCoefficients = declareMessage({
  protocol: VFL2,
  type: 'GuestCoefficients',
  from: 'guest',
  to: ['host'],
  privacy: 'ciphertext',
  fields: { coefficients: 'bytes[][]' },
  discloses:
    "nothing: under the guest's own key, the per-row Chebyshev coefficients of σ(z) − y in the host's windowed basis (the label folded into the constant term); the host holds no key to decrypt them",
});

export const TwoPartyGradient = declareMessage({
  protocol: VFL2,
  type: 'TwoPartyGradient',
  from: 'host',
  to: ['guest'],
  privacy: 'aggregate',
  fields: { guest: 'bytes', host: 'bytes' },
  discloses:
    "after decryption, the loss gradient of the guest's weights and of the host's weights in its secret rotated basis (one sum over all rows per weight, re-randomised and noise-flooded per copy by the host): norms and inner products of the host gradient, not which platform feature carries what",
});

export const Update2 = declareMessage({
  protocol: VFL2,
  type: 'Update',
  from: 'guest',
  to: ['host'],
  privacy: 'model',
  fields: { step: 'f64' },
  discloses: "the move of the host's own weights in its rotated basis (a new quasi-Newton step or a line-search trial along it)",
});

export const Finished2 = declareMessage({
  protocol: VFL2,
  type: 'Finished',
  from: 'guest',
  to: ['host'],
  privacy: 'metadata',
  fields: { converged: 'boolean', iterations: 'int', gradientNorm: 'number' },
  discloses: 'whether training converged, the iteration count and the final gradient norm',
});
