import { describe, expect, it } from 'vitest';
import { IndomainError } from '../../engine/errors.ts';
import { oneOf, record, records, validateBody, type MessageSpec } from '../../protocols/message.ts';

const spec: MessageSpec = {
  protocol: 't',
  type: 'Nested',
  from: 'host',
  to: ['guest'],
  privacy: 'metadata',
  fields: {
    stage: oneOf(['psi', 'training']),
    report: record({ count: 'int', done: 'boolean' }, ['done']),
    table: records({ name: 'string', points: 'number[]', grid: 'number[][]' }),
  },
  discloses: 'test',
};

const good = { stage: 'psi', report: { count: 3 }, table: [{ name: 'a', points: [1, 2], grid: [[1], [2, 3]] }] };

/** The refusal's field and message, or 'accepted'. */
function check(body: unknown): { field?: string; message: string } | 'accepted' {
  try {
    validateBody(spec, body, 'SRV_EGRESS_BLOCKED');
    return 'accepted';
  } catch (e) {
    if (!(e instanceof IndomainError)) throw e;
    return { ...(e.location?.field !== undefined ? { field: e.location.field } : {}), message: e.message };
  }
}

describe('structured field kinds', () => {
  it('accepts exactly the declared shape, optional sub-fields absent or present', () => {
    expect(check(good)).toBe('accepted');
    expect(check({ ...good, report: { count: 3, done: true } })).toBe('accepted');
    expect(check({ ...good, table: [] })).toBe('accepted');
  });

  it('refuses undeclared, missing and mistyped sub-fields by their path, never echoing a value', () => {
    const secret = 'SECRET-VALUE-913';
    const cases: [unknown, string][] = [
      [{ ...good, stage: secret }, 'stage'],
      [{ ...good, report: { count: 3, leak: secret } }, 'report.leak'],
      [{ ...good, report: {} }, 'report.count'],
      [{ ...good, report: { count: 0.5 } }, 'report.count'],
      [{ ...good, report: JSON.stringify({ count: 3 }) }, 'report'],
      [{ ...good, report: [3] }, 'report'],
      [{ ...good, table: [{ name: 'a', points: [1], grid: [[1]], leak: secret }] }, 'table[0].leak'],
      [{ ...good, table: [good.table[0], { name: secret, points: [secret], grid: [[1]] }] }, 'table[1].points'],
      [{ ...good, table: [{ name: 'a', points: [1], grid: [1] }] }, 'table[0].grid'],
      [{ ...good, table: ['x'] }, 'table[0]'],
      [{ ...good, table: { name: 'a' } }, 'table'],
    ];
    for (const [body, field] of cases) {
      const r = check(body);
      expect(r, field).not.toBe('accepted');
      if (r === 'accepted') continue;
      expect(r.field).toBe(field);
      expect(r.message).not.toContain(secret);
    }
  });
});
