// The repository's root folder: the one place that knows where lib/ sits in it. Resolved through
// symlinks, because tslab loads lib/ through notebooks/lib.
import * as fs from 'fs';
import * as path from 'path';

export function repoRoot(): string {
  return path.resolve(fs.realpathSync(__dirname), '..', '..');
}
