/**
 * `npm run bench -- <suite> [options]`. Suites: `vfl`. Errors print their code and message.
 */
import { parseArgs } from 'node:util';
import { IndomainError, isIndomainError } from '../engine/errors.ts';
import { vflBench } from './vfl.ts';

const USAGE = `usage: npm run bench -- vfl --guest G.csv --host H.csv --id ID_COLUMN --label LABEL_COLUMN
                      [--seed 42] [--test-fraction 0.2] [--json OUT.json] [--scores-out SCORES.csv]`;

async function main(argv: string[]): Promise<void> {
  const [suite, ...rest] = argv;
  if (suite !== 'vfl') throw new IndomainError('CLI_BAD_ARGS', `unknown suite "${suite ?? ''}"\n${USAGE}`);
  const { values } = parseArgs({
    args: rest,
    options: {
      guest: { type: 'string' },
      host: { type: 'string' },
      id: { type: 'string' },
      label: { type: 'string' },
      seed: { type: 'string', default: '42' },
      'test-fraction': { type: 'string', default: '0.2' },
      json: { type: 'string' },
      'scores-out': { type: 'string' },
    },
    strict: true,
  });
  for (const k of ['guest', 'host', 'id', 'label'] as const) {
    if (!values[k]) throw new IndomainError('CLI_BAD_ARGS', `--${k} is required\n${USAGE}`);
  }
  const testFraction = Number(values['test-fraction']);
  const result = await vflBench({
    guest: values.guest!,
    host: values.host!,
    id: values.id!,
    label: values.label!,
    seed: values.seed!,
    testFraction,
    ...(values.json ? { json: values.json } : {}),
    ...(values['scores-out'] ? { scoresOut: values['scores-out'] } : {}),
    log: (l) => process.stderr.write(`${l}\n`),
  });
  const f = result.federated as Record<string, number>;
  const c = result.centralized as Record<string, number>;
  process.stdout.write(
    `federated AUC ${f.testAuc!.toFixed(4)} KS ${f.testKs!.toFixed(4)} in ${f.trainSeconds!.toFixed(2)} s (${f.iterations} iterations); ` +
      `centralised AUC ${c.testAuc!.toFixed(4)} in ${c.trainSeconds!.toFixed(4)} s; ratio ${(f.trainSeconds! / c.trainSeconds!).toFixed(0)}×\n`,
  );
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (isIndomainError(e)) process.stderr.write(`error ${e.code}: ${e.message}\n`);
  else if (e instanceof Error && 'code' in e && String((e as { code: unknown }).code).startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`error CLI_BAD_ARGS: ${e.message}\n${USAGE}\n`);
  } else process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
