/**
 * Messages of the hybrid consortium (protocol `consortium-hybrid`), with what each receiver learns.
 * See `hybrid.ts` for the flow. The row counts, event counts and bank-feature Gram blocks go
 * through secure aggregation (protocol `secagg`, protocols/secagg/messages.ts).
 */
import { declareMessage } from '../message.ts';

export const HYBRID = 'consortium-hybrid';

export const HybridSetup = declareMessage({
  protocol: HYBRID,
  type: 'HybridSetup',
  from: 'coordinator',
  to: ['bank', 'platform'],
  privacy: 'metadata',
  fields: { params: 'string', publicKey: 'bytes', galoisKeys: 'bytes' },
  discloses: "the CKKS parameter set, public key and Galois keys of the coordinator (no secret key)",
});

export const PlatformGram = declareMessage({
  protocol: HYBRID,
  type: 'PlatformGram',
  from: 'platform',
  to: ['coordinator'],
  privacy: 'aggregate',
  fields: { rows: 'int', gram: 'f64' },
  discloses: "the platform features' Gram matrix X_Hᵀ X_H summed over every bank's aligned rows, and their total count (for the initial Hessian)",
});

export const HybridRoundStart = declareMessage({
  protocol: HYBRID,
  type: 'HybridRoundStart',
  from: 'coordinator',
  to: ['platform'],
  privacy: 'metadata',
  fields: {},
  discloses: 'that a training round starts',
});

export const PairBasis = declareMessage({
  protocol: HYBRID,
  type: 'PairBasis',
  from: 'platform',
  to: ['bank'],
  privacy: 'ciphertext',
  fields: { centre: 'number', halfWidth: 'number', basis: 'bytes[][]' },
  discloses:
    "the mean and window half-width of the platform's partial logits over this bank's aligned rows (two aggregates), and under the coordinator's key the Chebyshev basis of the normalised partial logits (nothing readable)",
});

export const PairResidual = declareMessage({
  protocol: HYBRID,
  type: 'PairResidual',
  from: 'bank',
  to: ['platform'],
  privacy: 'ciphertext',
  fields: { chunks: 'bytes[]' },
  discloses: "nothing readable: σ(z) − y over the bank's aligned rows under the coordinator's key, re-randomised (not in the span of the platform's basis)",
});

export const BankGradient = declareMessage({
  protocol: HYBRID,
  type: 'BankGradient',
  from: 'bank',
  to: ['platform'],
  privacy: 'ciphertext',
  fields: { gradient: 'bytes' },
  discloses:
    "nothing readable: the bank's gradient part X_Bᵀ(σ(z) − y)/√N under the coordinator's key, re-randomised; the platform only adds it to the other banks' before anyone decrypts",
});

export const GradientSum = declareMessage({
  protocol: HYBRID,
  type: 'GradientSum',
  from: 'platform',
  to: ['coordinator'],
  privacy: 'aggregate',
  fields: { banks: 'string[]', rows: 'int', bank: 'bytes', platform: 'bytes' },
  discloses:
    "after decryption and flooding, the gradient of the pooled log-loss: its bank-feature part summed over the banks that answered and its platform-feature part summed over their rows (no single bank's part); which banks it covers and their row count (after a bank drops out, its row count by subtraction)",
});

export const HybridUpdate = declareMessage({
  protocol: HYBRID,
  type: 'HybridUpdate',
  from: 'coordinator',
  to: ['bank', 'platform'],
  privacy: 'model',
  fields: { step: 'f64' },
  discloses: "the BFGS step of the receiver's own block of the consortium model (every bank gets the same bank-feature block)",
});

export const HybridFinished = declareMessage({
  protocol: HYBRID,
  type: 'HybridFinished',
  from: 'coordinator',
  to: ['bank', 'platform'],
  privacy: 'metadata',
  fields: { converged: 'boolean', iterations: 'int', gradientNorm: 'number' },
  discloses: 'whether training converged, after how many rounds, and the final gradient norm',
});

export const CONSORTIUM_LR = 'consortium-lr';

export const Iterate = declareMessage({
  protocol: CONSORTIUM_LR,
  type: 'Iterate',
  from: 'coordinator',
  to: ['bank'],
  privacy: 'model',
  fields: { weights: 'f64', final: 'boolean' },
  discloses:
    "the consortium model's current Newton iterate (intercept, then the weights), or the final model: an empty vector opens the first secure sum (row and event counts); the first iterate's intercept is the logit of the pooled event rate; each later iterate is a function of the pooled gradient and Hessian of the surviving banks (never of one bank's)",
});
