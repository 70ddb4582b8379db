// The table of pretrained models (lib/course/models.ts): every entry's file is in the repository,
// is the file its manifest record describes (same SHA-256: the id, file and manifest key agree) and
// loads with its loader without leaking tensors; the table covers every shipped *.safetensors; a
// missing file names the command that writes it and an unknown id lists the known ones.
import { strict as assert } from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../lib/runtime/backend';
import { repoRoot } from '../lib/runtime/repo_root';
import {
  loadPretrained,
  PRETRAINED,
  PRETRAINED_IDS,
  pretrainedAvailable,
  pretrainedCommand,
  PretrainedId,
  pretrainedManifest,
  PretrainedModels,
  pretrainedPath,
} from '../lib/course/models';
import { Prediction } from '../lib/core/loss';
import { UNet } from '../lib/core/unet/unet';
import { FashionClassifier } from '../lib/eval/metrics/classifier';
import { LoadedAutoencoder } from '../lib/methods/latent/train_autoencoder';
import { SrModel } from '../lib/methods/sr/model';
import { TextUNet } from '../lib/methods/text/text_unet';

// Compile-time checks that each id returns its own model type (the mapped type over the table).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const typed: [
  Same<PretrainedModels['05/unet'], UNet>,
  Same<PretrainedModels['08/sr3'], SrModel>,
  Same<PretrainedModels['10/glide'], TextUNet>,
  Same<PretrainedModels['12/decoder'], { unet: UNet; prediction: Prediction }>,
  Same<PretrainedModels['13/autoencoder'], LoadedAutoencoder>,
  Same<PretrainedModels['13/ldm-layout'], UNet>,
  Same<PretrainedModels['14/gligen'], TextUNet>,
  Same<PretrainedModels['classifier'], FashionClassifier>,
] = [true, true, true, true, true, true, true, true];

/** Frees a loaded model: its own dispose, or that of each part (SrModel.unet, LoadedAutoencoder.ae, ...). */
function disposeModel(m: unknown): void {
  const d = m as { dispose?: () => void };
  if (typeof d.dispose === 'function') return d.dispose();
  for (const part of Object.values(m as Record<string, unknown>))
    if (part && typeof (part as { dispose?: unknown }).dispose === 'function') (part as { dispose(): void }).dispose();
}

/** Every *.safetensors under checkpoints/, relative to the root, outside the git-ignored train/ folders. */
function shippedFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'train' ? [] : shippedFiles(p);
    return e.name.endsWith('.safetensors') ? [path.relative(repoRoot(), p).split(path.sep).join('/')] : [];
  });
}

describe('the table of pretrained models', function () {
  this.timeout(300_000);
  before(async () => {
    await initBackend();
  });

  it('each id returns its own model type', () => assert.ok(typed.every((t) => t)));

  it('covers every shipped *.safetensors under checkpoints/, and names no other file', () => {
    const files = shippedFiles(path.join(repoRoot(), 'checkpoints')).sort();
    const table = PRETRAINED_IDS.map((id) => PRETRAINED[id].file).sort();
    assert.deepEqual(
      files.filter((f) => !table.includes(f)),
      [],
      'shipped files without a table entry',
    );
    assert.deepEqual(
      table.filter((f) => !files.includes(f)),
      [],
      'table entries without a file',
    );
    assert.equal(new Set(table).size, table.length, 'two ids name the same file');
  });

  for (const id of PRETRAINED_IDS) {
    it(`${id}: present, described by its manifest, loads with its loader`, () => {
      const file = pretrainedPath(id);
      assert.ok(pretrainedAvailable(id), `${file} is missing`);
      for (const n of PRETRAINED[id].needs ?? [])
        assert.ok((PRETRAINED_IDS as string[]).includes(n), `${id} needs unknown id '${n}'`);
      const m = pretrainedManifest(id);
      assert.equal(path.basename(String(m.file)), path.basename(file), `${id}: the manifest record names ${m.file}`);
      assert.equal(
        m.sha256,
        crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex'),
        `${id}: the manifest's sha256 is another file's`,
      );
      const before = tf.memory().numTensors;
      disposeModel(loadPretrained(id));
      assert.equal(tf.memory().numTensors, before, `${id}: tensors left after dispose`);
    });
  }

  it('a missing file is one error naming the file and the command that writes it', () => {
    const missing = path.join(repoRoot(), 'build', 'no-such-dir', 'nope.safetensors');
    assert.throws(
      () => loadPretrained('05/unet', missing),
      (e: Error) => {
        assert.match(e.message, /nope\.safetensors not found: run npm run train -- 05 /);
        assert.match(e.message, /checkpoints\/05\/manifest\.json has the shipped model's full recipe/);
        return true;
      },
    );
    for (const id of PRETRAINED_IDS) {
      assert.throws(
        () => loadPretrained(id, missing),
        (e: Error) => e.message.includes(`not found: run ${pretrainedCommand(id)} (it writes ${PRETRAINED[id].file};`),
        id,
      );
      assert.match(pretrainedCommand(id), /^npm run train(:[a-z0-9-]+)?( |$)/, `${id}: the command is an npm script`);
    }
  });

  it('an unknown id lists the known ones', () => {
    const known = new RegExp(`unknown pretrained model '07/cfg': the known ids are ${PRETRAINED_IDS.join(', ')}$`);
    assert.throws(() => loadPretrained('07/cfg' as PretrainedId), known);
    assert.throws(() => pretrainedPath('07/cfg' as PretrainedId), known);
    assert.throws(() => pretrainedManifest('07/cfg' as PretrainedId), known);
    assert.throws(() => pretrainedPath('toString' as PretrainedId), /unknown pretrained model 'toString'/);
  });

  it('another file of the same kind loads with the same loader, and a wrong kind is refused', () => {
    const u = loadPretrained('05/unet', pretrainedPath('07/cfg-unet'));
    assert.equal(u.config.numClasses, 10);
    u.dispose();
    assert.throws(() => loadPretrained('07/cfg-unet', pretrainedPath('05/unet')), /holds an unconditional UNet/);
  });
});
