/**
 * Jobs on this node: list, status, cancel; creation on the coordinator (the body is a job spec,
 * checked by the schema and then by parseJobSpec with the protocol configurations); the platform
 * analyst's approval or refusal on the platform.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { IndomainError } from '../../engine/errors.ts';
import { MAX_TEST_FRACTION, parseAnySpec } from '../jobs/spec.ts';
import { errors, JobId, JobView, Name, open, security, jobView } from './schemas.ts';

const Side = Type.Object({ node: Type.String({ minLength: 1 }), dataset: Type.String({ minLength: 1 }) }, { additionalProperties: false });

/** A bank + platform job spec as submitted (server/jobs/spec.ts); the protocol configurations are checked by their own parsers. */
const VerticalSpecBody = Type.Object(
  {
    id: Name,
    pipeline: Type.Union([Type.Literal('lr'), Type.Literal('scorecard')]),
    coordinator: Type.String({ minLength: 1 }),
    guest: Side,
    host: Side,
    seed: Type.Optional(Type.Union([Type.String(), Type.Number()])),
    testFraction: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: MAX_TEST_FRACTION })),
    // Who holds the training key: the coordinator's arbiter (three parties, the default) or nobody but the bank (two parties).
    arbiter: Type.Optional(Type.Union([Type.Literal('coordinator'), Type.Literal('none')])),
    training: Type.Optional(open({})),
    scorecard: Type.Optional(open({})),
  },
  { additionalProperties: false },
);

/** A consortium-lr job: a coordinator and n banks on their own datasets (server/jobs/spec.ts ConsortiumSpec). */
const ConsortiumSpecBody = Type.Object(
  {
    id: Name,
    pipeline: Type.Literal('consortium-lr'),
    coordinator: Type.String({ minLength: 1 }),
    banks: Type.Array(Side, { minItems: 2, maxItems: 255 }),
    features: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
    threshold: Type.Optional(Type.Integer({ minimum: 2 })),
    seed: Type.Optional(Type.Union([Type.String(), Type.Number()])),
    testFraction: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 })),
    training: Type.Optional(open({})),
    stageTimeoutSeconds: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 3600 })),
  },
  { additionalProperties: false },
);

const JobSpecBody = Type.Union([VerticalSpecBody, ConsortiumSpecBody]);

const Traffic = Type.Object({ sent: Type.Record(Type.String(), Type.Number()), received: Type.Record(Type.String(), Type.Number()) });

export const jobsPlugin: FastifyPluginAsyncTypebox = async (app) => {
  const { node } = app;
  const { store, runtime } = node;
  const view = (id: string) => {
    const row = store.job(id);
    if (!row) throw new IndomainError('SRV_NOT_FOUND', `job "${id}"`);
    return jobView(row);
  };

  app.get('/', { prefixTrailingSlash: 'no-slash', schema: { summary: 'Jobs known to this node', security, response: { 200: Type.Array(JobView), ...errors } } }, async () => store.jobs().map(jobView));
  app.get('/:id', { schema: { summary: 'Status of one job, with per-stage progress', security, params: JobId, response: { 200: Type.Intersect([JobView, Type.Object({ traffic: Traffic })]), ...errors } } }, async (req) => ({
    ...view(req.params.id),
    traffic: store.traffic(req.params.id),
  }));
  app.post('/:id/cancel', { schema: { summary: 'Cancel a job', security, params: JobId, response: { 200: JobView, ...errors } } }, async (req) => {
    runtime.cancel(req.params.id);
    return view(req.params.id);
  });
  if (node.role === 'coordinator') {
    app.post('/', { prefixTrailingSlash: 'no-slash', schema: { summary: 'Create a job from a JSON spec', security, body: JobSpecBody, response: { 201: JobView, ...errors } } }, async (req, reply) => {
      const spec = parseAnySpec(req.body);
      runtime.createJob(spec);
      return reply.status(201).send(view(spec.id));
    });
  }
  if (node.role === 'platform') {
    app.post('/:id/approve', { schema: { summary: "The platform analyst's approval of a job", security, params: JobId, response: { 200: JobView, ...errors } } }, async (req) => {
      runtime.approve(req.params.id, 'analyst');
      return view(req.params.id);
    });
    const Refusal = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false, description: 'optional: no body is a refusal without a reason' });
    app.post(
      '/:id/refuse',
      {
        // No body at all is a refusal without a reason.
        preValidation: async (req) => void (req.body ??= {}),
        schema: { summary: "The platform analyst's refusal of a job", security, params: JobId, body: Refusal, response: { 200: JobView, ...errors } },
      },
      async (req) => {
        runtime.refuse(req.params.id, 'analyst', req.body.reason ?? 'refused by the analyst');
        return view(req.params.id);
      },
    );
  }
};
