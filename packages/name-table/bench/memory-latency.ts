/**
 * Calibration for the name-table benchmark: what one dependent random read costs on this machine
 * once the data is far larger than the caches (a 10-step pointer chase through a 64 MB Int32Array).
 *
 *   npx tsx packages/name-table/bench/memory-latency.ts
 */
const N = 1_000_000;
const big = new Int32Array(16 * N);
for (let i = 0; i < N; i++) big[i * 16] = (Math.imul(i, 2654435761) >>> 0) % N;
const cpu = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};
const chases = 1_000_000;
let x = 1;
let sum = 0;
const start = cpu();
for (let i = 0; i < chases; i++) {
  x = (Math.imul(x, 1103515245) + 12345) | 0;
  let p = (x >>> 8) % N;
  for (let k = 0; k < 10; k++) p = ((big[p * 16] as number) + p * 7 + 1) % N;
  sum += p;
}
const ns = ((cpu() - start) / (chases * 10)) * 1e9;
console.log(`one dependent random read in 64 MB: ${ns.toFixed(0)} ns of CPU time (checksum ${sum % 997})`);
