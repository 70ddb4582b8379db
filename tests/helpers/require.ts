// A spec whose independent reference needs something scripts/setup.sh installs fails without it, so a
// green run means the reference ran. DIFFUSION_TEST_ALLOW_MISSING=<names, comma-separated> (e.g. on a
// machine without apt) turns that failure into a pending test that prints its reason.

/** Fails (or, when allowed, skips with the reason printed) unless `present`. */
export function requireDependency(ctx: Mocha.Context, name: string, present: boolean, why: string): void {
  if (present) return;
  const allowed = (process.env.DIFFUSION_TEST_ALLOW_MISSING ?? '').split(',').map((s) => s.trim());
  if (allowed.includes(name)) {
    console.log(`      SKIPPED (DIFFUSION_TEST_ALLOW_MISSING=${name}): ${why}`);
    ctx.skip();
  }
  throw new Error(`${why}. Run scripts/setup.sh, or set DIFFUSION_TEST_ALLOW_MISSING=${name} to skip this check`);
}

export const NUMPY_MISSING = 'numpy is missing for /usr/bin/python3 (scripts/setup.sh installs python3-numpy)';
export const TORCH_MISSING = 'PyTorch is missing for /usr/bin/python3 (scripts/setup.sh installs python3-torch)';
