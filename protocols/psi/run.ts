/** Run both PSI roles in one process over the in-memory transport (tests, benchmarks). */
import type { Rng } from '../../engine/rng.ts';
import { MemoryTransport } from '../transport.ts';
import { PsiGuest, PsiHost, type Blinder } from './protocol.ts';

export async function psiInMemory(
  job: string,
  guestIds: readonly string[],
  hostIds: readonly string[],
  blinder: Blinder,
  rng: { guest: Rng; host: Rng },
): Promise<{ guest: PsiGuest; host: PsiHost; transport: MemoryTransport }> {
  const guest = new PsiGuest(job, guestIds, blinder, rng.guest);
  const host = new PsiHost(job, hostIds, blinder, rng.host);
  const transport = new MemoryTransport([guest, host]);
  await transport.run();
  return { guest, host, transport };
}
