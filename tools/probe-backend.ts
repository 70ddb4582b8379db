// Prints which backend initBackend picks here and why the faster ones were skipped.
// Usage: npx tsx tools/probe-backend.ts [--json] [--twice]   (DIFFUSION_BACKEND=cpu forces one)
//   --twice: also checks that a second call returns the same report object (prints "same report").
import { formatBackendReport, initBackend } from '../lib/runtime/backend';

async function main(): Promise<void> {
  const r = await initBackend();
  console.log(process.argv.includes('--json') ? JSON.stringify(r) : formatBackendReport(r));
  if (process.argv.includes('--twice')) {
    const again = await initBackend();
    console.log(again === r ? 'same report' : 'DIFFERENT report');
    const other = r.backend === 'cpu' ? 'wasm' : 'cpu';
    await initBackend({ force: other }).then(
      () => console.log(`forcing ${other} afterwards did not throw`),
      (e: Error) => console.log(`forcing ${other} afterwards: ${e.message}`),
    );
  }
}

main().catch((e: Error) => {
  console.error(`initBackend failed: ${e.message}`);
  process.exit(2);
});
