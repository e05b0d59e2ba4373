import { createCkks, generateKeys, importPublicKeys } from './protocols/he/ckks.ts';
const ckks = await createCkks('ckks-n8192-l1');
let t0 = performance.now(); const k = generateKeys(ckks); console.log('keygen', performance.now()-t0);
t0 = performance.now(); importPublicKeys(ckks, k.publicKey, k.galoisKeys); console.log('import', performance.now()-t0, k.galoisKeys.length);
