// Debian's Python for the specs that cross-check against numpy and PyTorch. scripts/setup.sh installs
// python3-numpy and python3-torch, so a spec that needs one calls requireDependency (tests/helpers/require.ts):
// it fails where the package is missing instead of skipping.
import { execFileSync } from 'child_process';

export const PY = '/usr/bin/python3';

const imports = (module: string): boolean => {
  try {
    execFileSync(PY, ['-c', `import ${module}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

export const hasNumpy = imports('numpy');
export const hasTorch = imports('torch');
