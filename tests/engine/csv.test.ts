import { describe, expect, it } from 'vitest';
import { loadCsv, parseCsv } from '../../engine/csv.ts';
import { IndomainError, type ErrorCode } from '../../engine/errors.ts';
import { isValidUscc, usccProblem, withUsccCheck } from '../../engine/uscc.ts';

const opts = { idColumn: 'id', labelColumn: 'y' };

/**
 * parseCsv refuses `text` with `code` at `at`, and the message carries none of `hidden` (values from
 * the file: messages reach remote callers, rule 16).
 */
function refuse(text: string, code: ErrorCode, at: { line?: number; column?: number; field?: string }, o: Parameters<typeof parseCsv>[1] = opts, hidden: readonly string[] = []) {
  try {
    parseCsv(text, o, 'bank.csv');
  } catch (e) {
    expect(e).toBeInstanceOf(IndomainError);
    const err = e as IndomainError;
    expect(err.code).toBe(code);
    expect(err.location?.file).toBe('bank.csv');
    for (const [k, v] of Object.entries(at)) expect(err.location?.[k as keyof typeof at]).toBe(v);
    expect(err.message).toContain('bank.csv');
    for (const h of hidden) expect(err.message).not.toContain(h);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('CSV loading', () => {
  it('loads columns, labels and missing values', () => {
    const t = parseCsv('id,y,a,b\nE1,1,0.5,NA\nE2,0,,3\r\n"E,3",0,nan,-1e3\n', opts);
    expect(t.ids).toEqual(['E1', 'E2', 'E,3']);
    expect([...t.label!]).toEqual([1, 0, 0]);
    expect(t.featureNames).toEqual(['a', 'b']);
    expect(t.features[0]![0]).toBe(0.5);
    expect(Number.isNaN(t.features[0]![1]!)).toBe(true);
    expect(Number.isNaN(t.features[1]![0]!)).toBe(true);
    expect(t.features[1]![2]).toBe(-1000);
  });
  it('reads the quoted UCI header style and the real FATE files', () => {
    const t = loadCsv(new URL('../data/fate/default_credit_hetero_guest.csv', import.meta.url).pathname, opts);
    expect(t.ids.length).toBe(30000);
    expect(t.features.length).toBe(13);
    expect(t.label!.reduce((s, v) => s + v, 0)).toBe(6636);
    const q = parseCsv('"ID","X ""q""","y"\n1,2,0\n', { idColumn: 'ID', labelColumn: 'y' });
    expect(q.featureNames).toEqual(['X "q"']);
  });
  it('refuses a non-numeric value naming line, column and field', () => {
    refuse('id,y,a\nE1,1,0.5\nE2,0,abc\n', 'DATA_NON_NUMERIC', { line: 3, column: 3, field: 'a' }, opts, ['abc', 'E2']);
  });
  it('refuses a duplicate id, naming its first line but not the id', () => {
    refuse('id,y,a\nACME-7,1,1\nE2,0,2\nACME-7,0,3\n', 'DATA_DUPLICATE_ID', { line: 4, column: 1, field: 'id' }, opts, ['ACME-7']);
    expect(() => parseCsv('id,y,a\nACME-7,1,1\nE2,0,2\nACME-7,0,3\n', opts, 'bank.csv')).toThrow(/first on line 2/);
  });
  it('refuses a label that is not 0/1', () => refuse('id,y,a\nE1,yes,1\n', 'DATA_BAD_LABEL', { line: 2, column: 2, field: 'y' }, opts, ['yes', 'E1']));
  it('refuses a missing label', () => refuse('id,y,a\nE1,,1\n', 'DATA_BAD_LABEL', { line: 2, column: 2 }));
  it('refuses a ragged row', () => refuse('id,y,a\nE1,1,1\nE2,0\n', 'DATA_RAGGED_ROW', { line: 3 }));
  it('refuses an empty file', () => refuse('', 'DATA_EMPTY_FILE', { line: 1 }));
  it('refuses a header without rows', () => refuse('id,y,a\n', 'DATA_NO_ROWS', { line: 2 }));
  // The header is the file's first line: a missing column is named as the caller gave it, the header is not echoed.
  it('refuses a missing id column', () => refuse('key,y,secret_a\nE1,1,1\n', 'DATA_MISSING_ID_COLUMN', { line: 1, field: 'id' }, opts, ['key', 'secret_a']));
  it('refuses a missing label column', () => refuse('id,secret_a\nE1,1\n', 'DATA_MISSING_LABEL_COLUMN', { line: 1, field: 'y' }, opts, ['secret_a']));
  it('refuses a file with no features', () => refuse('id,y,z\nE1,1,1\n', 'DATA_NO_FEATURES', { line: 1 }, { ...opts, exclude: ['z'] }, ['E1']));
  it('refuses an empty id', () => refuse('id,y,a\n,1,1\n', 'DATA_EMPTY_ID', { line: 2, column: 1 }));
  it('refuses a duplicate column', () => refuse('id,y,a,a\nE1,1,1,2\n', 'DATA_DUPLICATE_COLUMN', { line: 1, column: 4, field: 'a' }));
  it('refuses an unterminated quote', () => refuse('id,y,a\n"E1,1,1\n', 'DATA_UNTERMINATED_QUOTE', { line: 2 }));
  it('refuses an unreadable file with a coded error', () => {
    expect(() => loadCsv('/nonexistent/bank.csv', opts)).toThrow(expect.objectContaining({ code: 'DATA_FILE_UNREADABLE' }));
  });
  it('validates USCC ids when declared', () => {
    const good = withUsccCheck('91110000600037341'); // check character computed per GB 32100-2015
    const t = parseCsv(`id,y,a\n${good},1,1\n`, { ...opts, idFormat: 'uscc' });
    expect(t.ids).toEqual([good]);
    const last = good[17] === '0' ? '1' : '0';
    refuse(`id,y,a\n${good},1,1\n${good.slice(0, 17)}${last}X,0,1\n`, 'DATA_BAD_USCC', { line: 3, column: 1, field: 'id' }, { ...opts, idFormat: 'uscc' }, [good.slice(0, 17), good.slice(3, 12)]);
    refuse(`id,y,a\n${good.slice(0, 17)}${last},0,1\n`, 'DATA_BAD_USCC', { line: 2 }, { ...opts, idFormat: 'uscc' }, [good.slice(0, 17), `"${last}"`, `"${good[17]}"`]);
    expect(() => parseCsv(`id,y,a\n${good.slice(0, 17)}${last},0,1\n`, { ...opts, idFormat: 'uscc' })).toThrow(/check character \(position 18\) does not match/);
  });
});

describe('USCC check character (GB 32100-2015)', () => {
  it('accepts published codes and rejects single-character changes', () => {
    // Codes printed on public business licences.
    for (const code of ['91350100M000100Y43', '91110108551385082Q', '914403001922038216']) {
      expect(usccProblem(code)).toBeUndefined();
      const i = 5;
      const changed = code.slice(0, i) + (code[i] === '1' ? '2' : '1') + code.slice(i + 1);
      expect(isValidUscc(changed)).toBe(false);
    }
  });
  it('rejects wrong length and characters outside the alphabet', () => {
    expect(usccProblem('9135010')).toMatch(/7 characters/);
    expect(usccProblem('91350100M000100YI3')).toBe('the character at position 17 is not in the USCC alphabet');
    expect(usccProblem('9135010')).not.toContain('9135010');
  });
});
