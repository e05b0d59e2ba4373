/**
 * Unified Social Credit Code (统一社会信用代码), GB 32100-2015.
 *
 * 18 characters over the alphabet 0-9 and A-Z without I, O, Z, S, V (31 symbols, value = index).
 * The last character is a check character: with weights 3^i mod 31 for positions i = 0..16,
 * check = (31 - Σ value·weight mod 31) mod 31.
 */

export const USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const WEIGHTS = Array.from({ length: 17 }, (_, i) => {
  let w = 1;
  for (let k = 0; k < i; k++) w = (w * 3) % 31;
  return w;
});
const VALUE = new Map<string, number>([...USCC_ALPHABET].map((c, i) => [c, i]));

/** The check character for the first 17 characters, or undefined if one of them is not in the alphabet. */
export function usccCheckCharacter(first17: string): string | undefined {
  if (first17.length !== 17) return undefined;
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const v = VALUE.get(first17[i]!);
    if (v === undefined) return undefined;
    sum += v * WEIGHTS[i]!;
  }
  return USCC_ALPHABET[(31 - (sum % 31)) % 31];
}

/**
 * Why a code is invalid (lengths and positions only, never the code or its characters: the
 * reason reaches remote callers), or undefined when it is valid.
 */
export function usccProblem(code: string): string | undefined {
  if (code.length !== 18) return `${code.length} characters, expected 18`;
  for (let i = 0; i < 18; i++) {
    if (!VALUE.has(code[i]!)) return `the character at position ${i + 1} is not in the USCC alphabet`;
  }
  if (usccCheckCharacter(code.slice(0, 17)) !== code[17]) return 'the check character (position 18) does not match';
  return undefined;
}

export function isValidUscc(code: string): boolean {
  return usccProblem(code) === undefined;
}

/** Complete 17 characters with their check character. */
export function withUsccCheck(first17: string): string {
  const c = usccCheckCharacter(first17);
  if (c === undefined) throw new RangeError(`not 17 USCC characters: ${first17}`);
  return first17 + c;
}
