/**
 * A party's deliverables of an `lr` job, each node its own part, in its own store and data
 * directory: the model (weights and the preparation of its own columns, README "Missing values"),
 * and its part as PMML 4.4 and SQL (models/export/lr.ts). The bank's part takes the platform's
 * partial logit as an input; the platform's part computes it. Neither holds the other's values,
 * weights or statistics.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lrPart, lrPmml, lrSql } from '../../models/export/lr.ts';
import type { StoredLr } from '../scoring/lr-part.ts';
import type { NodeStore } from '../store/node-store.ts';

export function writeLrPart(store: NodeStore, job: string, role: 'guest' | 'host', stored: StoredLr): void {
  store.putModel(job, role, stored);
  const part = lrPart(job, role, stored);
  const dir = join(store.dir, 'jobs', job);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.json'), JSON.stringify(part, null, 2));
  writeFileSync(join(dir, 'lr.pmml'), lrPmml(part));
  writeFileSync(join(dir, 'lr.sql'), lrSql(part));
}
