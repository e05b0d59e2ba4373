/**
 * The job spec's training settings are validated up front (issue 15, item 8): a coded error naming
 * the field, never a raw engine error mid-job (a testFraction of 0.9999 used to reach the arbiter
 * and fail there with SEAL's "result ciphertext is transparent"), no misspelt setting ignored, no
 * string taken as a number.
 */
import { describe, expect, it } from 'vitest';
import { parseJobSpec } from '../../server/jobs/spec.ts';

const base = { id: 'j', pipeline: 'lr', coordinator: 'coordinator', guest: { node: 'bank-1', dataset: 'loans' }, host: { node: 'platform', dataset: 'credit' } };
const refusal = (spec: Record<string, unknown>) => {
  try {
    parseJobSpec({ ...base, ...spec });
    return null;
  } catch (e) {
    return e as { code: string; message: string };
  }
};

describe('job spec: training settings checked before the job starts', () => {
  it('refuses a test share that leaves training too few rows, naming testFraction', () => {
    for (const testFraction of [0.9999, 0.51, '0.2', 0, 1]) {
      const e = refusal({ testFraction });
      expect(e, String(testFraction)).toMatchObject({ code: 'SRV_BAD_REQUEST' });
      expect(e!.message).toContain('field "testFraction"');
    }
    expect(refusal({ testFraction: 0.5 })).toBeNull();
    expect(refusal({ testFraction: 0.2 })).toBeNull();
  });

  it('refuses a misspelt training setting and a setting of the wrong type, naming it', () => {
    expect(refusal({ training: { maxIteration: 5 } })).toMatchObject({ code: 'SRV_BAD_REQUEST', message: expect.stringContaining('field "training.maxIteration"') });
    expect(refusal({ training: { lambda: '0.1' } })).toMatchObject({ code: 'SRV_BAD_REQUEST', message: expect.stringContaining('field "training.lambda"') });
    expect(refusal({ training: { maxIterations: 0 } })).toMatchObject({ code: 'VFL_BAD_CONFIG', message: expect.stringContaining('field "maxIterations"') });
    expect(refusal({ training: { maxIterations: 5, lambda: 0.01 } })).toBeNull();
  });
});

describe('job spec: the arbiter mode', () => {
  it('takes "coordinator" (the default) and "none"; refuses anything else naming the field', () => {
    expect(parseJobSpec(base).arbiter).toBeUndefined();
    expect(parseJobSpec({ ...base, arbiter: 'coordinator' }).arbiter).toBe('coordinator');
    expect(parseJobSpec({ ...base, arbiter: 'none' }).arbiter).toBe('none');
    expect(parseJobSpec({ ...base, pipeline: 'scorecard', arbiter: 'none' }).arbiter).toBe('none');
    for (const arbiter of ['None', 'platform', 'bank', '', 1, null, true, ['none'], { mode: 'none' }]) {
      const e = refusal({ arbiter });
      expect(e, JSON.stringify(arbiter)).toMatchObject({ code: 'SRV_BAD_REQUEST' });
      expect(e!.message).toContain('field "arbiter"');
    }
  });
});
