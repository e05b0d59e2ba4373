/** TypeBox schemas shared by the routes: the coded error, ids, a job's view. */
import { Type, type TSchema } from '@sinclair/typebox';
import { PURPOSES, SCORING_PURPOSES } from '../authz.ts';

/** Every refusal: `{ code, message }`, the code from engine/errors.ts. */
export const ErrorBody = Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: false });

/** The error answers of a route (4xx, and 5xx for what a peer or the node itself failed at). */
export const errors = { '4xx': ErrorBody, '5xx': ErrorBody } as const;

export const Name = Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', description: '1–64 of A–Z a–z 0–9 . _ -' });
export const JobId = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
export const Purpose = Type.Union(PURPOSES.map((p) => Type.Literal(p)));
/** The purposes a score may be asked for (server/authz.ts SCORING_PURPOSES: not `modelling`). */
export const ScoringPurpose = Type.Union(SCORING_PURPOSES.map((p) => Type.Literal(p)));

/** A value the node stores as JSON and shows as it is (progress, result, error, spec). */
const Json = Type.Unknown();

export const JobView = Type.Object(
  {
    id: Type.String(),
    status: Type.String(),
    stage: Type.String(),
    progress: Json,
    result: Json,
    error: Json,
    spec: Json,
    createdAt: Type.Number(),
    updatedAt: Type.Number(),
  },
);

/** An object whose own fields are described, that may carry more (a report, a summary). */
export function open<T extends Record<string, TSchema>>(fields: T) {
  return Type.Object(fields, { additionalProperties: true });
}

export const security = [{ adminToken: [] }];

export function jobView(r: { id: string; spec: string; status: string; stage: string; progress: string; result: string | null; error: string | null; createdAt: number; updatedAt: number }) {
  return {
    id: r.id,
    status: r.status,
    stage: r.stage,
    progress: JSON.parse(r.progress) as unknown,
    result: r.result ? (JSON.parse(r.result) as unknown) : null,
    error: r.error ? (JSON.parse(r.error) as unknown) : null,
    spec: JSON.parse(r.spec) as unknown,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}
