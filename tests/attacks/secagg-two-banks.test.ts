/**
 * Attack on secure aggregation (protocols/secagg), run on its real messages: a bank reads another
 * bank's input from a round's Result when the sum covers only the two of them.
 *
 * Three banks, threshold 2 (the default majority, and consortium-lr's dropout setting): bank-3 drops
 * before its masked input, so the round is summed over bank-1 and bank-2. Every bank in the sum gets
 * the Result; bank-1 subtracts its own fixed-point input and has bank-2's, exactly. The inputs are
 * the banks' real statistics as the hybrid consortium sums them (row count, event count, Gram block
 * of default_credit rows). Defence: the coordinator withholds the sum from the banks when it covers
 * fewer than three (the Result names the banks only). Switched off (a test-only option of the
 * coordinator, `releaseSmallSums`), bank-1 reads every value of bank-2's input.
 */
import { describe, expect, it } from 'vitest';
import { cryptoRng } from '../../engine/rng.ts';
import { bankStatistics } from '../../protocols/consortium/hybrid.ts';
import { decodeFixed, encodeFixed, secAggConfig, SecAggJob } from '../../protocols/secagg/protocol.ts';
import { hybridSplit } from '../helpers/consortium-data.ts';

const FRACTION_BITS = 16;

async function attack(releaseSmallSums: boolean) {
  const { pairs } = hybridSplit(3, 3000);
  const banks = [...pairs.keys()];
  const inputs = new Map(banks.map((b) => [b, bankStatistics(pairs.get(b)!.bank, pairs.get(b)!.y)]));
  const config = secAggConfig({ job: `sa-two-${releaseSmallSums}`, banks, threshold: 2, fractionBits: FRACTION_BITS });
  const job = new SecAggJob(config, () => cryptoRng, { releaseSmallSums });
  await job.setup();
  const outcome = await job.aggregate(1, inputs, new Map([['bank-3', 'mask']]));
  // bank-1, as the attacker: what it received, less what it put in.
  const attacker = job.banks.find((b) => b.name === 'bank-1')!;
  const own = decodeFixed(encodeFixed(inputs.get('bank-1')!, FRACTION_BITS, banks.length), FRACTION_BITS);
  const victim = decodeFixed(encodeFixed(inputs.get('bank-2')!, FRACTION_BITS, banks.length), FRACTION_BITS);
  const sum = attacker.result?.sum;
  const read = sum ? victim.filter((v, i) => Math.abs(sum[i]! - own[i]! - v) < 2 ** -(FRACTION_BITS + 1)).length : 0;
  return { covered: outcome.banks, values: victim.length, read, rows: victim[0]!, events: victim[1]!, gotSum: sum !== undefined, coordinatorHasSum: outcome.sum.length === victim.length };
}

describe('attack: a bank reads another bank’s input from a secure sum over two banks', () => {
  it('3 banks, threshold 2, bank-3 drops: sum withheld from the banks, 0 values read; released, bank-1 reads all of bank-2’s', async () => {
    const on = await attack(false);
    const off = await attack(true);
    console.log(
      `secagg two-bank subtraction (round covers ${on.covered.join(', ')}; bank-2's input: ${on.values} values, ${on.rows} rows, ${on.events} events, Gram block): ` +
        `withheld: bank-1 got a sum ${on.gotSum}, read ${on.read} of ${on.values}; released: read ${off.read} of ${off.values} exactly`,
    );
    expect(on.covered).toEqual(['bank-1', 'bank-2']);
    expect(on.coordinatorHasSum).toBe(true);
    expect(on.gotSum).toBe(false);
    expect(on.read).toBe(0);
    expect(off.read).toBe(off.values);
  }, 60_000);

  it('a sum over three banks still reaches every bank', async () => {
    const { pairs } = hybridSplit(3, 600);
    const banks = [...pairs.keys()];
    const inputs = new Map(banks.map((b) => [b, bankStatistics(pairs.get(b)!.bank, pairs.get(b)!.y)]));
    const job = new SecAggJob(secAggConfig({ job: 'sa-three', banks, threshold: 2, fractionBits: FRACTION_BITS }));
    await job.setup();
    const outcome = await job.aggregate(1, inputs);
    for (const b of job.banks) expect([...b.result!.sum!]).toEqual([...outcome.sum]);
  }, 60_000);
});
