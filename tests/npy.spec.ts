// lib/eval/npy.ts against NumPy itself (the independent reference): files we write load in numpy
// with the same values, and files numpy writes load here.
import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { encodeNpy, readNpy, writeNpy } from '../lib/eval/npy';
import { hasNumpy, PY } from './helpers/python';
import { NUMPY_MISSING, requireDependency } from './helpers/require';

describe('.npy files', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'npy-spec-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('numpy reads what we write (float32 and uint8, any rank) with the same values', function () {
    requireDependency(this, 'numpy', hasNumpy, NUMPY_MISSING);
    const f32 = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => (i - 7) / 3);
    const u8 = Uint8Array.from({ length: 5 }, (_, i) => 250 + i);
    writeNpy(path.join(dir, 'a.npy'), f32, [2, 3, 4]);
    writeNpy(path.join(dir, 'b.npy'), u8, [5]);
    const out = execFileSync(
      PY,
      [
        '-c',
        `import numpy as np, json
a = np.load('${dir}/a.npy'); b = np.load('${dir}/b.npy')
print(json.dumps([str(a.dtype), a.shape, a.ravel().tolist(), str(b.dtype), b.shape, b.tolist()]))`,
      ],
      { encoding: 'utf8' },
    );
    const [da, sa, va, db, sb, vb] = JSON.parse(out);
    assert.deepEqual([da, sa, db, sb], ['float32', [2, 3, 4], 'uint8', [5]]);
    assert.deepEqual(va, Array.from(f32));
    assert.deepEqual(vb, Array.from(u8));
  });

  it('reads what numpy writes; refuses other dtypes, Fortran order, truncation and non-files', function () {
    requireDependency(this, 'numpy', hasNumpy, NUMPY_MISSING);
    execFileSync(PY, [
      '-c',
      `import numpy as np
np.save('${dir}/c.npy', np.arange(6, dtype=np.float32).reshape(3, 2) / 4)
np.save('${dir}/d.npy', np.zeros(3, dtype=np.float64))
np.save('${dir}/e.npy', np.asfortranarray(np.ones((2, 3), dtype=np.float32)))
np.save('${dir}/s.npy', np.float32(2.5))`,
    ]);
    const c = readNpy(path.join(dir, 'c.npy'));
    assert.deepEqual(c.shape, [3, 2]);
    assert.deepEqual(Array.from(c.data), [0, 0.25, 0.5, 0.75, 1, 1.25]);
    assert.deepEqual(readNpy(path.join(dir, 's.npy')).shape, []);
    assert.throws(() => readNpy(path.join(dir, 'd.npy')), /dtype '<f8'; only float32/);
    assert.throws(() => readNpy(path.join(dir, 'e.npy')), /Fortran order/);
    const bytes = fs.readFileSync(path.join(dir, 'c.npy'));
    fs.writeFileSync(path.join(dir, 't.npy'), bytes.subarray(0, bytes.length - 3));
    assert.throws(() => readNpy(path.join(dir, 't.npy')), /should hold 24 data bytes for shape \[3,2\], it holds 21/);
    assert.throws(() => readNpy(dir), /is not a regular file/);
    fs.writeFileSync(path.join(dir, 'x.npy'), 'hello world');
    assert.throws(() => readNpy(path.join(dir, 'x.npy')), /not an \.npy file/);
  });

  it('pads the header to a multiple of 64 bytes and checks the shape against the data', () => {
    for (const shape of [[1], [10, 28, 28, 1], [123456, 7]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const b = encodeNpy(new Uint8Array(n), shape);
      assert.equal((b.length - n) % 64, 0);
    }
    assert.throws(() => encodeNpy(new Float32Array(5), [2, 3]), /shape \[2,3\] holds 6 values, the data 5/);
  });
});
