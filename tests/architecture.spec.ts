// The library's layering (DESIGN.md section 4): lib/core imports nothing from outside lib/core
// (npm packages and node builtins are fine), so methods, eval, runtime and course build on core and
// never the reverse. Imports are found by TypeScript's own pre-processor (import and export ... from,
// `import type`, side-effect imports, `import x = require()`, require() and import() calls,
// /// <reference path>), checked first on a sample that holds every form.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ts from 'typescript';

const ROOT = path.join(__dirname, '..');
const CORE = path.join(ROOT, 'lib', 'core');

/** Every module specifier and referenced path in a TypeScript source. */
function specifiers(source: string): string[] {
  const info = ts.preProcessFile(source, true, true);
  return [...info.importedFiles, ...info.referencedFiles].map((f) => f.fileName);
}

/** The relative imports of `file` that resolve outside `dir`. */
function importsOutside(file: string, dir: string): string[] {
  return specifiers(fs.readFileSync(file, 'utf8'))
    .filter((s) => s.startsWith('.'))
    .filter((s) => {
      const rel = path.relative(dir, path.resolve(path.dirname(file), s));
      return rel === '..' || rel.startsWith('..' + path.sep) || path.isAbsolute(rel);
    });
}

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.isFile() && e.name.endsWith('.ts') ? [p] : [];
  });
}

describe('architecture: lib/core imports nothing outside lib/core', () => {
  it('the import scan finds every form of import, resolved from the importing file (so the check below can fail)', () => {
    // As if at lib/core/unet/probe.ts: '../x' stays in lib/core, '../../x' leaves it.
    const sample = [
      '/// <reference path="../../h.d.ts" />',
      "import * as tf from '@tensorflow/tfjs-core';",
      "import { a } from '../../x/a';",
      "import type { B } from '../../y/b';",
      "import '../../side_effect';",
      "export { c } from '../../z/c';",
      "export * from '../../w';",
      "import e = require('../../e');",
      "const f = require('../../f');",
      "async function g() { return import('../../g'); }",
      "import { p } from '../params';",
      "import { l } from './layers';",
      "import type { T } from '../../core/schedule';",
      'const s = \'from "../../not_an_import"\';',
    ].join('\n');
    const outside = [
      '../../h.d.ts',
      '../../x/a',
      '../../y/b',
      '../../side_effect',
      '../../z/c',
      '../../w',
      '../../e',
      '../../f',
      '../../g',
    ];
    assert.deepEqual(
      specifiers(sample).sort(),
      [...outside, '@tensorflow/tfjs-core', '../params', './layers', '../../core/schedule'].sort(),
    );
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'arch-'));
    const core = path.join(tmp, 'lib', 'core');
    fs.mkdirSync(path.join(core, 'unet'), { recursive: true });
    const probe = path.join(core, 'unet', 'probe.ts');
    fs.writeFileSync(probe, sample);
    assert.deepEqual(importsOutside(probe, core).sort(), [...outside].sort());
    fs.rmSync(tmp, { recursive: true });
  });

  it('every .ts file under lib/core', () => {
    const files = tsFiles(CORE);
    assert.ok(files.length > 20, `only ${files.length} files found under ${CORE}`);
    const bad = files.flatMap((f) => importsOutside(f, CORE).map((s) => `${path.relative(ROOT, f)}: '${s}'`));
    assert.deepEqual(bad, [], `lib/core must not import from outside lib/core:\n  ${bad.join('\n  ')}`);
  });
});
