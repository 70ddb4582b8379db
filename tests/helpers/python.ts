// Debian's Python for the specs that cross-check against numpy; they skip where numpy is missing.
import { execFileSync } from 'child_process';

export const PY = '/usr/bin/python3';

export const hasNumpy = (() => {
  try {
    execFileSync(PY, ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
