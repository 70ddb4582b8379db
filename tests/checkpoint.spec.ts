// Checkpoints in the safetensors format: an independent reader (Python/numpy parsing the format by
// hand, since Debian has no python3-safetensors) sees the values TS wrote; TS reads what an
// independent writer (Python) wrote, including F16/BF16/I64; TS -> file -> TS round trips a UNet
// with EMA and Adam state; crafted bad files are each refused with a message naming the problem.
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { writeFileAtomic } from '../lib/core/checkpoint/atomic_write';
import {
  checkConfig,
  loadOptimizerState,
  loadParams,
  readCheckpoint,
  saveCheckpoint,
} from '../lib/core/checkpoint/checkpoint';
import { decodeSafetensors, encodeSafetensors, toFloat32, toInt32 } from '../lib/core/checkpoint/safetensors';
import { loadUNetCheckpoint, saveUNetWeights } from '../lib/core/checkpoint/unet_checkpoint';
import { Rng } from '../lib/core/random';
import { linearSchedule } from '../lib/core/schedule';
import { makeTrainStep } from '../lib/core/train/train_step';
import { UNetConfigInput } from '../lib/core/unet/config';
import { UNet } from '../lib/core/unet/unet';
import { hasNumpy, PY } from './helpers/python';
import { NUMPY_MISSING, requireDependency } from './helpers/require';
import { TINY_UNET } from './helpers/tiny_unet';

const tiny: UNetConfigInput = { ...TINY_UNET, numClasses: 3 };

/** A safetensors file built by hand from a header object and raw data (independent of the encoder). */
function craft(header: unknown, data: Uint8Array | number = 0, headerText?: string): Buffer {
  const json = Buffer.from(headerText ?? JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const body = typeof data === 'number' ? Buffer.alloc(data) : Buffer.from(data);
  return Buffer.concat([len, json, body]);
}

function values(v: tf.Tensor): number[] {
  return Array.from(v.dataSync());
}

describe('checkpoint: safetensors format', function () {
  let dir = '';
  before(async () => {
    await tf.setBackend('cpu');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-spec-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('encodes the documented layout (u64 LE length, JSON header, 8-byte aligned data) and decodes it back', () => {
    const f = new Float32Array([1.5, -2, 3.25, 1e-30, -0, 7]);
    const i = new Int32Array([-5, 0, 2147483647]);
    const u = new Uint8Array([0, 255, 7]);
    const buf = encodeSafetensors(
      {
        w: { dtype: 'F32', shape: [2, 3], data: f },
        idx: { dtype: 'I32', shape: [3], data: i },
        px: { dtype: 'U8', shape: [3, 1], data: u },
      },
      { note: 'hi' },
    );
    const n = Number(buf.readBigUInt64LE(0));
    assert.strictEqual((8 + n) % 8, 0, 'data must start 8-byte aligned');
    const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
    assert.deepStrictEqual(header.__metadata__, { note: 'hi' });
    assert.deepStrictEqual(header.w, { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
    assert.deepStrictEqual(header.idx.data_offsets, [24, 36]);
    // The raw bytes are little-endian float32, read here with Buffer's own reader.
    assert.strictEqual(buf.readFloatLE(8 + n + 8), 3.25);
    const back = decodeSafetensors(buf);
    assert.deepStrictEqual(Array.from(toFloat32(back.tensors.get('w')!)), Array.from(f));
    assert.deepStrictEqual(Array.from(toInt32(back.tensors.get('idx')!)), Array.from(i));
    assert.deepStrictEqual(Array.from(toInt32(back.tensors.get('px')!)), [0, 255, 7]);
    assert.deepStrictEqual(back.metadata, { note: 'hi' });
  });

  it('Python (numpy, parsing the format by hand) reads a UNet checkpoint with the same values', async function () {
    requireDependency(this, 'numpy', hasNumpy, NUMPY_MISSING);
    const model = new UNet(tiny, { seed: 3 });
    const ema = new UNet(tiny, { seed: 4 });
    const file = path.join(dir, 'py.safetensors');
    await saveCheckpoint(file, {
      config: model.config,
      params: model.params,
      ema: ema.params,
      step: 12,
      seed: 5,
      history: { loss: [0.5, 0.25] },
    });
    const script = [
      'import json, struct, sys',
      'import numpy as np',
      'raw = open(sys.argv[1], "rb").read()',
      '(n,) = struct.unpack("<Q", raw[:8])',
      'header = json.loads(raw[8:8 + n].decode("utf-8"))',
      'meta = header.pop("__metadata__")',
      'data = raw[8 + n:]',
      'out = {"meta": meta, "tensors": {}}',
      'for name, e in header.items():',
      '    assert e["dtype"] == "F32", e',
      '    b, t = e["data_offsets"]',
      '    a = np.frombuffer(data[b:t], dtype="<f4").reshape(e["shape"])',
      '    out["tensors"][name] = {"shape": list(a.shape), "values": [float(v) for v in a.ravel()]}',
      'print(json.dumps(out))',
    ].join('\n');
    const py = JSON.parse(execFileSync(PY, ['-c', script, file], { encoding: 'utf8', maxBuffer: 1 << 28 }));
    assert.strictEqual(py.meta.step, '12');
    assert.strictEqual(py.meta.seed, '5');
    assert.deepStrictEqual(JSON.parse(py.meta.config), JSON.parse(JSON.stringify(model.config)));
    assert.deepStrictEqual(py.tensors['train/loss'].values, [0.5, 0.25]);
    let checked = 0;
    for (const [prefix, m] of [
      ['', model],
      ['ema/', ema],
    ] as const) {
      for (const [name, v] of m.params) {
        const t = py.tensors[prefix + name];
        assert.ok(t, `Python did not find '${prefix + name}'`);
        assert.deepStrictEqual(t.shape, v.shape, `shape of ${prefix + name}`);
        assert.deepStrictEqual(t.values, values(v), `values of ${prefix + name}`);
        checked++;
      }
    }
    assert.strictEqual(Object.keys(py.tensors).length, checked + 1, 'Python sees exactly the params, EMA and loss');
    model.dispose();
    ema.dispose();
  });

  it('TS reads a file written by an independent writer (Python) in F32, F64, F16, BF16, I64, I32, U8, BOOL', function () {
    requireDependency(this, 'numpy', hasNumpy, NUMPY_MISSING);
    const file = path.join(dir, 'from-python.safetensors');
    const script = [
      'import json, struct, sys',
      'import numpy as np',
      'rng = np.random.default_rng(0)',
      'arrs = {',
      '  "f32": rng.standard_normal((2, 3)).astype("<f4"),',
      '  "f64": rng.standard_normal((4,)).astype("<f8"),',
      '  "f16": rng.standard_normal((3, 2)).astype("<f2"),',
      '  "i64": np.array([-3, 0, 2**31 - 1], dtype="<i8"),',
      '  "i32": np.array([[1, -2], [3, -4]], dtype="<i4"),',
      '  "u8": np.array([0, 128, 255], dtype="u1"),',
      '  "flag": np.array([True, False, True]),',
      '}',
      'dt = {"f32": "F32", "f64": "F64", "f16": "F16", "i64": "I64", "i32": "I32", "u8": "U8", "flag": "BOOL"}',
      // bfloat16 by hand: the top 16 bits of float32 (truncation), as numpy has no bf16.
      'bf_src = np.array([1.0, -2.5, 3.140625, 100.0], dtype="<f4")',
      'bf = (bf_src.view("<u4") >> 16).astype("<u2")',
      'header, blobs, off = {}, [], 0',
      'for k in sorted(arrs):',
      '    b = arrs[k].tobytes()',
      '    header[k] = {"dtype": dt[k], "shape": list(arrs[k].shape), "data_offsets": [off, off + len(b)]}',
      '    blobs.append(b); off += len(b)',
      'header["bf"] = {"dtype": "BF16", "shape": [4], "data_offsets": [off, off + 8]}; blobs.append(bf.tobytes()); off += 8',
      'header["__metadata__"] = {"who": "python"}',
      'h = json.dumps(header).encode()',
      'open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + b"".join(blobs))',
      'ref = {k: [float(v) for v in a.astype("f8").ravel()] for k, a in arrs.items()}',
      'ref["bf"] = [float(v) for v in bf_src]',
      'print(json.dumps(ref))',
    ].join('\n');
    const ref = JSON.parse(execFileSync(PY, ['-c', script, file], { encoding: 'utf8' })) as Record<string, number[]>;
    const f = decodeSafetensors(fs.readFileSync(file), file);
    assert.deepStrictEqual(f.metadata, { who: 'python' });
    assert.deepStrictEqual(f.tensors.get('f32')!.shape, [2, 3]);
    for (const k of ['f32', 'f16', 'bf']) assert.deepStrictEqual(Array.from(toFloat32(f.tensors.get(k)!)), ref[k], k);
    // float64 values are rounded to float32 on the way into tfjs.
    assert.deepStrictEqual(Array.from(toFloat32(f.tensors.get('f64')!)), Array.from(Float32Array.from(ref.f64)));
    for (const k of ['i64', 'i32', 'u8', 'flag'])
      assert.deepStrictEqual(Array.from(toInt32(f.tensors.get(k)!)), ref[k], k);
  });

  it('refuses crafted bad files, each with a message naming the problem', () => {
    const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    const cases: [string, Buffer, RegExp][] = [
      ['shorter than 8 bytes', Buffer.from([1, 2, 3]), /too short for the 8-byte header length/],
      [
        'header length beyond the file',
        (() => {
          const b = craft(ok, 8);
          b.writeBigUInt64LE(BigInt(b.length));
          return b;
        })(),
        /header length \d+ is beyond the file size/,
      ],
      [
        'huge header length',
        (() => {
          const b = craft(ok, 8);
          b.writeBigUInt64LE(2n ** 63n);
          return b;
        })(),
        /beyond the file size/,
      ],
      ['bad JSON', craft(null, 8, '{"a": {"dtype": "F32",'), /header is not valid JSON/],
      ['JSON that is not an object', craft(null, 0, '[1, 2]'), /does not start with '\{'/],
      [
        'unknown dtype',
        craft({ a: { dtype: 'F128', shape: [2], data_offsets: [0, 8] } }, 8),
        /tensor 'a': unknown dtype 'F128'/,
      ],
      [
        'negative shape',
        craft({ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, 8),
        /tensor 'a': shape \[-2\] is not a list/,
      ],
      [
        'offsets out of range',
        craft({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8),
        /tensor 'a': data_offsets \[0, 16\] are out of range/,
      ],
      [
        'offsets not matching dtype x shape',
        craft({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8),
        /tensor 'a': data_offsets \[0, 8\] hold 8 bytes, but F32 x \[3\] needs 12/,
      ],
      [
        'offsets reversed',
        craft({ a: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, 8),
        /tensor 'a': data_offsets \[8, 0\] end before they begin/,
      ],
      [
        'overlapping tensors',
        craft(
          {
            a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
            b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
          },
          12,
        ),
        /tensor 'b': data_offsets \[4, 12\] overlap tensor 'a'/,
      ],
      [
        'a hole between tensors',
        craft(
          {
            a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
            b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
          },
          12,
        ),
        /tensor 'b': bytes \[4, 8\) before it belong to no tensor/,
      ],
      ['trailing bytes', craft(ok, 12), /bytes \[8, 12\) at the end of the data belong to no tensor/],
      ['non-string metadata', craft({ ...ok, __metadata__: { step: 5 } }, 8), /metadata 'step' is not a string/],
      [
        'offsets not integers',
        craft({ a: { dtype: 'F32', shape: [2], data_offsets: [0, '8'] } }, 8),
        /tensor 'a': data_offsets \[0,"8"\] is not two non-negative integers/,
      ],
    ];
    for (const [what, buf, re] of cases) {
      assert.throws(
        () => decodeSafetensors(buf, 'bad.safetensors'),
        (e: Error) => {
          assert.match(e.message, /^safetensors bad\.safetensors: /, what);
          assert.match(e.message, re, `${what}: got '${e.message}'`);
          return true;
        },
        what,
      );
    }
    // The same checks run when the bytes come from a file on disk.
    const file = path.join(dir, 'bad.safetensors');
    fs.writeFileSync(file, cases[7][1]);
    assert.throws(() => readCheckpoint(file), /bad\.safetensors: tensor 'a': data_offsets \[0, 16\] are out of range/);
  });

  it('writes atomically: no temporary file is left, an existing file is replaced whole', () => {
    const sub = path.join(dir, 'atomic');
    const file = path.join(sub, 'x.bin');
    writeFileAtomic(file, 'first version, longer than the second');
    writeFileAtomic(file, 'second');
    assert.strictEqual(fs.readFileSync(file, 'utf8'), 'second');
    assert.deepStrictEqual(fs.readdirSync(sub), ['x.bin']);
    // A failed write (target is a folder) leaves neither a temporary file nor a changed target.
    fs.mkdirSync(path.join(sub, 'adir'));
    assert.throws(
      () => writeFileAtomic(path.join(sub, 'adir'), 'x'),
      /EISDIR: illegal operation on a directory, rename/,
    );
    assert.deepStrictEqual(fs.readdirSync(sub).sort(), ['adir', 'x.bin']);
  });
});

describe('checkpoint: UNet, EMA and Adam state', function () {
  let dir = '';
  before(async () => {
    await tf.setBackend('cpu');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-unet-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('round trip TS -> file -> TS: weights, EMA, config, step, and the model computes the same output', async () => {
    const model = new UNet(tiny, { seed: 1 });
    const ema = new UNet(tiny, { seed: 2 });
    const file = path.join(dir, 'rt.safetensors');
    await saveCheckpoint(file, { config: model.config, params: model.params, ema: ema.params, step: 7, seed: 9 });
    const ck = readCheckpoint(file);
    assert.strictEqual(ck.step, 7);
    assert.strictEqual(ck.seed, 9);
    assert.ok(ck.hasEma);
    checkConfig(ck, model.config);
    const fresh = new UNet(tiny, { seed: 99 });
    loadParams(ck, fresh.params, 'params');
    for (const [n, v] of model.params) assert.deepStrictEqual(values(fresh.params.get(n)!), values(v), n);
    // loadUNetCheckpoint builds the model from the file's config and prefers the EMA weights.
    const loaded = loadUNetCheckpoint(file);
    const raw = loadUNetCheckpoint(file, { weights: 'params' });
    const x = new Rng(0).normalTensor([2, 8, 8, 1]) as tf.Tensor4D;
    const diff = (a: UNet, b: UNet) =>
      tf.tidy(
        () =>
          tf
            .max(
              tf.abs(
                tf.sub(a.apply(x, [3, 50], { classLabels: [0, 3] }), b.apply(x, [3, 50], { classLabels: [0, 3] })),
              ),
            )
            .dataSync()[0],
      );
    assert.strictEqual(diff(loaded, ema), 0);
    assert.strictEqual(diff(raw, model), 0);
    assert.ok(diff(raw, ema) > 0);
    // A weights-only file (what a lesson ships) loads the same way.
    const small = path.join(dir, 'weights.safetensors');
    await saveUNetWeights(small, ema);
    const w = loadUNetCheckpoint(small);
    assert.strictEqual(diff(w, ema), 0);
    assert.ok(fs.statSync(small).size < fs.statSync(file).size);
    x.dispose();
    for (const m of [model, ema, fresh, loaded, raw, w]) m.dispose();
  });

  it('refuses a checkpoint whose tensors or config do not match the model, naming the tensor', async () => {
    const model = new UNet(tiny, { seed: 1 });
    const file = path.join(dir, 'm.safetensors');
    await saveCheckpoint(file, { config: model.config, params: model.params });
    const ck = readCheckpoint(file);
    const wider = new UNet({ ...tiny, baseChannels: 8 });
    assert.throws(
      () => loadParams(ck, wider.params),
      /checkpoint .*m\.safetensors: tensor '[^']+' has shape \[[\d,]+\], the model expects \[[\d,]+\]/,
    );
    assert.throws(
      () => checkConfig(ck, wider.config),
      /saved for a different model config \('baseChannels' is 4 in the file, 8 in the model\)/,
    );
    const noClass = new UNet({ ...tiny, numClasses: undefined });
    assert.throws(() => loadParams(ck, noClass.params), /tensor 'classEmb\.weight' is not a parameter of the model/);
    const withCond = new UNet({ ...tiny, condChannels: 2 });
    assert.throws(
      () => loadParams(ck, withCond.params),
      /tensor 'convIn\.weight' has shape \[3,3,1,4\], the model expects \[3,3,3,4\]/,
    );
    assert.throws(() => loadParams(ck, model.params, 'ema'), /has no EMA weights/);
    // A missing tensor: drop one from the file with the raw encoder.
    const params = new Map(model.params);
    params.delete('convOut.bias');
    const partial = path.join(dir, 'partial.safetensors');
    await saveCheckpoint(partial, { config: model.config, params });
    assert.throws(
      () => loadParams(readCheckpoint(partial), model.params),
      /tensor 'convOut\.bias' is missing \(the model has parameter 'convOut\.bias'\)/,
    );
    // Not a course checkpoint at all (a plain safetensors file).
    const plain = path.join(dir, 'plain.safetensors');
    fs.writeFileSync(plain, encodeSafetensors({ a: { dtype: 'F32', shape: [1], data: new Float32Array(1) } }));
    assert.throws(() => readCheckpoint(plain), /not a diffusion-ts-checkpoint file/);
    // Nothing was half-assigned by the refused loads: the model still has its own weights.
    const again = new UNet(tiny, { seed: 1 });
    for (const [n, v] of model.params) assert.deepStrictEqual(values(v), values(again.params.get(n)!), n);
    for (const m of [model, wider, noClass, withCond, again]) m.dispose();
  });

  it("restores Adam's moments and step count: the next update matches the uninterrupted optimizer's", async () => {
    const schedule = linearSchedule(50);
    const x0 = tf.tidy(() => tf.sub(tf.mul(new Rng(5).uniformTensor([2, 8, 8, 1]), 2), 1)) as tf.Tensor4D;
    const a = new UNet(tiny, { seed: 1 });
    const stepA = makeTrainStep(a, { schedule, rng: new Rng(7), learningRate: 1e-2 });
    for (let i = 0; i < 3; i++) await stepA(x0);
    const file = path.join(dir, 'adam.safetensors');
    await saveCheckpoint(file, { config: a.config, params: a.params, optimizer: stepA.optimizer, step: 3 });
    const ck = readCheckpoint(file);
    assert.strictEqual(ck.adam!.iterations, 3);
    const b = new UNet(tiny, { seed: 42 });
    loadParams(ck, b.params);
    const optB = tf.train.adam(1e-2);
    await loadOptimizerState(ck, optB, b.params);
    // The same 4th step on both (same rng state for t and noise).
    const rngState = new Rng(11);
    const stepA2 = makeTrainStep(a, { schedule, rng: rngState, optimizer: stepA.optimizer });
    const stepB = makeTrainStep(b, { schedule, rng: new Rng(11), optimizer: optB });
    await stepA2(x0);
    await stepB(x0);
    let worst = 0;
    for (const [n, v] of a.params)
      worst = Math.max(
        worst,
        tf.tidy(() => tf.max(tf.abs(tf.sub(v, b.params.get(n)!))).dataSync()[0]),
      );
    assert.ok(worst < 1e-6, `weights differ by ${worst} after the restored step`);
    // Without the moments the same step lands elsewhere (so the check above can fail).
    const c = new UNet(tiny, { seed: 42 });
    loadParams(ck, c.params);
    const stepC = makeTrainStep(c, { schedule, rng: new Rng(11), learningRate: 1e-2 });
    await stepC(x0);
    let off = 0;
    for (const [n, v] of a.params)
      off = Math.max(
        off,
        tf.tidy(() => tf.max(tf.abs(tf.sub(v, c.params.get(n)!))).dataSync()[0]),
      );
    assert.ok(off > 1e-4, `a fresh Adam gave the same step (${off}); the test cannot tell`);
    assert.throws(() => loadParams(ck, c.params, 'ema'), /checkpoint .*: has no EMA weights$/);
    await assert.rejects(loadOptimizerState(ck, optB, b.params), /already has state; restore into a fresh one/);
    await assert.rejects(
      loadOptimizerState(ck, tf.train.adam(1e-2, 0.5), b.params),
      /Adam beta1 was 0\.9, the optimizer has 0\.5/,
    );
    await assert.rejects(loadOptimizerState(ck, tf.train.sgd(1), b.params), /holds Adam's state, the optimizer is SGD/);
    stepA.dispose();
    optB.dispose();
    stepC.dispose();
    x0.dispose();
    for (const m of [a, b, c]) m.dispose();
  });
});
