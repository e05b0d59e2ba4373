/**
 * The bank's deliverables of a scorecard job, in its own data directory: report (JSON, Markdown,
 * standalone HTML, figures as SVG), model, PMML, SQL, scores.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scorecardPmml } from '../../models/export/pmml.ts';
import { writeReportFiles } from '../../models/report-files.ts';
import { scorecardSql } from '../../models/export/sql.ts';
import { assembleScorecard, disclosures, scorecardConfig, type ScorecardGuest } from '../../protocols/scorecard/protocol.ts';
import { metaOfKey } from '../messages.ts';
import type { NodeStore } from '../store/node-store.ts';
import { stripDeclarations, type JobSpec } from './spec.ts';

/** Assemble and store the scorecard; `testIds` are the validation rows, in the order of the guest's test scores. Returns the directory. */
export function writeScorecard(store: NodeStore, spec: JobSpec, role: string, g: ScorecardGuest, testIds: readonly string[]): string {
  const job = spec.id;
  const config = scorecardConfig(job, stripDeclarations(spec.scorecard));
  // What this node received, from the message keys: no need to read the ciphertexts again.
  const received = store.inboxKeys(job).map((key) => ({ to: role, ...metaOfKey(key) }));
  const a = assembleScorecard(g, config, disclosures(received));
  store.putModel(job, 'scorecard', a.model);
  store.putModel(job, 'report', a.report);
  const dir = join(store.dir, 'jobs', job);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'report.json'), JSON.stringify(a.report, null, 2));
  writeReportFiles(join(dir, 'report.md'), a.report);
  writeFileSync(join(dir, 'model.json'), JSON.stringify(a.model, null, 2));
  writeFileSync(join(dir, 'scorecard.pmml'), scorecardPmml(a.model));
  writeFileSync(join(dir, 'scorecard.sql'), scorecardSql(a.model));
  // Test (validation) rows only: the bank holds no platform value of a training row.
  const lines = ['id,set,score,points,reasons'];
  const s = g.test!;
  testIds.forEach((id, i) => lines.push(`${id},test,${s.prob[i]},${s.points[i]},${a.reasons.test[i]!.join(' ')}`));
  writeFileSync(join(dir, 'scores.csv'), lines.join('\n') + '\n');
  return dir;
}
