import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCsv } from '../../engine/csv.ts';
import { isValidUscc } from '../../engine/uscc.ts';
import { generateLab, LABEL, PLATFORM_FEATURES } from '../../server/lab/generate.ts';
import { tempDir } from '../helpers/tmp.ts';

describe('lab data generator', () => {
  const opts = { enterprises: 3000, banks: 2, loans: 1000, overlap: 0.9, seed: 'gen-test' };
  const a = generateLab(tempDir('lab-a-'), opts);
  it('is reproducible for a seed', () => {
    const b = generateLab(tempDir('lab-b-'), opts);
    expect(readFileSync(b.platform, 'utf8')).toBe(readFileSync(a.platform, 'utf8'));
    expect(readFileSync(b.banks[1]!, 'utf8')).toBe(readFileSync(a.banks[1]!, 'utf8'));
  });
  it('writes valid USCC ids, the platform features with missing values, and banks overlapping by ~90%', () => {
    // Loading with idFormat 'uscc' validates every id's GB 32100 check character.
    const platform = loadCsv(a.platform, { idColumn: 'id', idFormat: 'uscc' });
    expect(platform.ids.length).toBe(3000);
    expect(platform.featureNames).toEqual([...PLATFORM_FEATURES]);
    expect(platform.ids.every(isValidUscc)).toBe(true);
    const missing = platform.features[platform.featureNames.indexOf('hpf_monthly_contribution')]!.filter(Number.isNaN).length;
    expect(missing / 3000).toBeGreaterThan(0.2);
    const onPlatform = new Set(platform.ids);
    for (const file of a.banks) {
      const bank = loadCsv(file, { idColumn: 'id', labelColumn: LABEL, idFormat: 'uscc' });
      expect(bank.ids.length).toBe(1000);
      expect(bank.ids.filter((id) => onPlatform.has(id)).length).toBe(900);
      const rate = bank.label!.reduce((s, y) => s + y, 0) / 1000;
      expect(rate).toBeGreaterThan(0.05);
      expect(rate).toBeLessThan(0.3);
    }
  });
});
