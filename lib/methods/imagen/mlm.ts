// Imagen's text encoder is a language model trained on text alone, then frozen. No pretrained T5 can
// be downloaded here, so the course trains its own small one the BERT way: masked-language-model
// (MLM) pretraining on the captions. A share of the words is hidden ([MASK], sometimes a random or
// the same word) and the encoder must name them from the rest; its per-token vectors then carry
// each word and what it belongs to ("red" of the circle vs "blue" of the square), which is what the
// diffusion UNet later cross-attends to, without the UNet's loss ever changing the encoder.
// The output layer is tied to the token embedding (logits = h . E^T + b): no extra vocab x width matrix.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { checkConfig, fillFromCheckpoint, readCheckpoint, saveCheckpoint } from '../../core/checkpoint/checkpoint';
import { ParamMap, ParamStore, countParams, disposeParams } from '../../core/params';
import { ProgressOptions } from '../../core/progress';
import { Rng } from '../../core/random';
import { CheckpointOptions, trainParams } from '../../core/train/loss_trainer';
import { STREAM, stepRng } from '../../core/train/step_seed';
import { TextEncoderConfig, TextTransformer, validateTextEncoderConfig } from '../text/text_transformer';
import { BOS, EOS, EncodedBatch, MASK, PAD, SPECIAL_TOKENS } from '../text/tokenizer';

/** The masked-language model: a standalone TextTransformer plus the tied output bias. */
export class MlmModel {
  readonly params: ParamMap;
  readonly encoder: TextTransformer;
  readonly outBias: tf.Variable;

  constructor(
    readonly config: TextEncoderConfig,
    seed = 0,
  ) {
    validateTextEncoderConfig(config);
    const store = new ParamStore(new Rng(seed));
    this.params = store.params;
    this.encoder = store.scope('text', () => new TextTransformer(store, config));
    this.outBias = store.constant('mlm.outBias', [config.vocab.length], 0);
  }

  get paramCount(): number {
    return countParams(this.params);
  }

  /** [B, L, vocab] logits for every position of an encoded (possibly masked) batch. */
  logits(enc: EncodedBatch): tf.Tensor3D {
    return tf.tidy(() => {
      const h = this.encoder.apply(enc).tokens;
      const [b, l, w] = h.shape;
      const flat = tf.matMul(tf.reshape(h, [b * l, w]), this.encoder.tokenEmb, false, true);
      return tf.reshape(tf.add(flat, this.outBias), [b, l, this.config.vocab.length]) as tf.Tensor3D;
    });
  }

  dispose(): void {
    disposeParams(this.params);
  }
}

export interface MaskedBatch {
  /** The encoder's input: the batch with the chosen words replaced. */
  input: EncodedBatch;
  /** [B * L]: the original id at chosen positions, -1 elsewhere (not scored). */
  targets: Int32Array;
}

export interface MaskOptions {
  /** Share of word tokens chosen (BERT: 0.15); at least one word per caption is chosen. */
  rate?: number;
  /** Of the chosen: replaced by [MASK] with prob 0.8, by a random word with 0.1, kept with 0.1 (BERT). */
  maskProb?: number;
  randomProb?: number;
  /**
   * Also score every word that was not chosen: it must come out as itself. The course's captions draw
   * colour, shape, size and position independently, so context cannot predict them; with BERT's loss
   * alone the encoder learns to blur each of them into its word class ("some colour"), which is what a
   * frozen encoder must not do. Default false (BERT).
   */
  scoreAll?: boolean;
}

/**
 * Chooses words to predict and corrupts them. Special tokens ([BOS], [EOS], [PAD]) are never chosen.
 * The 10 % kept unchanged teach the encoder to keep a word's identity in its own output vector too.
 */
export function maskBatch(enc: EncodedBatch, vocabSize: number, rng: Rng, o: MaskOptions = {}): MaskedBatch {
  const rate = o.rate ?? 0.15;
  const pMask = o.maskProb ?? 0.8;
  const pRand = o.randomProb ?? 0.1;
  if (!(rate > 0 && rate <= 1)) throw new Error(`maskBatch: rate must be in (0, 1], got ${rate}`);
  if (!(pMask >= 0 && pRand >= 0 && pMask + pRand <= 1))
    throw new Error(`maskBatch: maskProb ${pMask} + randomProb ${pRand} must be probabilities summing to <= 1`);
  const first = SPECIAL_TOKENS.length;
  if (vocabSize <= first) throw new Error(`maskBatch: a vocabulary of ${vocabSize} has no words`);
  const L = enc.contextLength;
  const ids = Int32Array.from(enc.ids);
  const targets = new Int32Array(ids.length).fill(-1);
  for (let b = 0; b < enc.batch; b++) {
    const wordsAt: number[] = [];
    for (let i = 0; i < L; i++) {
      const id = enc.ids[b * L + i];
      if (id !== PAD && id !== BOS && id !== EOS) wordsAt.push(b * L + i);
    }
    if (wordsAt.length === 0) continue; // the empty caption: nothing to predict
    let chosen = wordsAt.filter(() => rng.uniform() < rate);
    if (chosen.length === 0) chosen = [wordsAt[rng.int(wordsAt.length)]];
    if (o.scoreAll) for (const p of wordsAt) targets[p] = enc.ids[p];
    for (const p of chosen) {
      targets[p] = enc.ids[p];
      const u = rng.uniform();
      if (u < pMask) ids[p] = MASK;
      else if (u < pMask + pRand) ids[p] = first + rng.int(vocabSize - first);
    }
  }
  return { input: { ...enc, ids }, targets };
}

/** Mean cross-entropy over the chosen positions (a 0/1 weight per position: no gather, whose gradient needs a scatter). */
export function mlmLoss(model: MlmModel, batch: MaskedBatch): tf.Scalar {
  const n = batch.targets.reduce((a, t) => a + (t >= 0 ? 1 : 0), 0);
  if (n === 0) throw new Error('mlmLoss: no position of the batch is masked');
  return tf.tidy(() => {
    const v = model.config.vocab.length;
    const logits = tf.reshape(model.logits(batch.input), [-1, v]) as tf.Tensor2D;
    const weight = tf.tensor1d(Float32Array.from(batch.targets, (t) => (t >= 0 ? 1 : 0)));
    const onehot = tf.oneHot(
      tf.tensor1d(
        Int32Array.from(batch.targets, (t) => Math.max(t, 0)),
        'int32',
      ),
      v,
    );
    const nll = tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1));
    return tf.div(tf.sum(tf.mul(nll, weight)), n) as tf.Scalar;
  });
}

export interface MlmTrainOptions extends MaskOptions, CheckpointOptions {
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  /** Called after every step with the loss (e.g. a progress bar or a curve). */
  onStep?: (step: number, loss: number) => void;
  /** A progress bar (default none). */
  progress?: false | ProgressOptions;
}

/**
 * Adam (beta2 0.98, BERT's) with a linear warm-up over 5% of the steps, then a linear decay to 10%;
 * returns every step's loss. Step s's captions (drawn with replacement) and masks come from
 * (seed, s) alone, so a run resumed from checkpointDir continues the same one.
 */
export async function trainMlm(model: MlmModel, captions: readonly string[], o: MlmTrainOptions): Promise<number[]> {
  for (const k of ['steps', 'batch', 'seed'] as const)
    if (!Number.isInteger(o[k]) || o[k] < (k === 'seed' ? 0 : 1))
      throw new Error(`trainMlm: ${k} must be a ${k === 'seed' ? 'non-negative' : 'positive'} integer, got ${o[k]}`);
  if (!(o.lr > 0)) throw new Error(`trainMlm: lr must be > 0, got ${o.lr}`);
  if (captions.length < o.batch)
    throw new Error(`trainMlm: ${captions.length} captions are fewer than one batch of ${o.batch}`);
  const tok = model.encoder.tokenizer;
  const data = (step: number): MaskedBatch => {
    const rng = stepRng(o.seed, step, STREAM.data);
    const caps = Array.from({ length: o.batch }, () => captions[rng.int(captions.length)]);
    return maskBatch(tok.encodeBatch(caps, { warn: false }), tok.size, rng, o);
  };
  const { history } = await trainParams(
    model.params,
    (mb: MaskedBatch) => mlmLoss(model, mb),
    {
      learningRate: o.lr,
      warmupSteps: Math.min(Math.max(1, Math.round(o.steps * 0.05)), o.steps - 1),
      decay: 'linear',
      totalSteps: o.steps,
      minLearningRate: 0.1 * o.lr,
      beta1: 0.9,
      beta2: 0.98,
      epsilon: 1e-8,
      seed: o.seed,
      config: { kind: MLM_KIND, text: model.config },
      describe: {
        batch: o.batch,
        rate: o.rate ?? 0.15,
        maskProb: o.maskProb ?? 0.8,
        randomProb: o.randomProb ?? 0.1,
        scoreAll: o.scoreAll ?? false,
      },
      progress: o.progress ?? false,
    },
    data,
    o,
  );
  return [...history.loss];
}

export interface MaskedAccuracy {
  /** Share of chosen words predicted exactly (argmax), over all chosen words. */
  all: number;
  /** Over content words (colour, shape, size, position): these are drawn independently in the data, so context can only narrow them to their word class. */
  content: number;
  /** Over the rest ("a", "at", "the", "and", ...): fixed by the grammar, so context decides them. */
  grammar: number;
  /** Chosen words scored, content ones among them. */
  count: number;
  contentCount: number;
}

/** Argmax accuracy on masked captions (every chosen word replaced by [MASK]), seeded. */
export async function maskedAccuracy(
  model: MlmModel,
  captions: readonly string[],
  contentWords: ReadonlySet<string>,
  seed = 1,
  batch = 128,
): Promise<MaskedAccuracy> {
  const tok = model.encoder.tokenizer;
  const rng = new Rng(seed);
  let hit = 0,
    n = 0,
    cHit = 0,
    cN = 0;
  for (let i = 0; i < captions.length; i += batch) {
    const mb = maskBatch(tok.encodeBatch(captions.slice(i, i + batch), { warn: false }), tok.size, rng, {
      maskProb: 1,
      randomProb: 0,
    });
    const pred = tf.tidy(() => tf.argMax(model.logits(mb.input), 2));
    const p = await pred.data();
    pred.dispose();
    mb.targets.forEach((t, j) => {
      if (t < 0) return;
      const ok = p[j] === t ? 1 : 0;
      hit += ok;
      n++;
      if (contentWords.has(tok.vocab[t])) {
        cHit += ok;
        cN++;
      }
    });
  }
  return {
    all: hit / n,
    content: cHit / Math.max(1, cN),
    grammar: (hit - cHit) / Math.max(1, n - cN),
    count: n,
    contentCount: cN,
  };
}

const MLM_KIND = 'imagen-mlm-text-encoder';

/** Writes the encoder (and the MLM bias) with its config; the config carries the vocabulary. */
export async function saveMlm(file: string, model: MlmModel, metadata: Record<string, string> = {}): Promise<void> {
  await saveCheckpoint(file, { config: { kind: MLM_KIND, text: model.config }, params: model.params, metadata });
}

/** Loads a model written by saveMlm. */
export function loadMlm(file: string): MlmModel {
  const ckpt = readCheckpoint(file);
  const c = ckpt.config as { kind?: string; text?: TextEncoderConfig };
  if (c?.kind !== MLM_KIND || !c.text)
    throw new Error(`loadMlm: ${file} is not a masked-language-model text encoder (config kind '${String(c?.kind)}')`);
  const model = new MlmModel(c.text);
  return fillFromCheckpoint(model, ckpt, 'params', () => checkConfig(ckpt, { kind: MLM_KIND, text: model.config }));
}

/**
 * What the model guesses for hidden words: `caption` with the words at `wordIndices` (0-based word
 * positions) replaced by [MASK]; returns the top-k words and probabilities for each.
 */
export async function fillMasks(
  model: MlmModel,
  caption: string,
  wordIndices: number[],
  topK = 3,
): Promise<{ word: string; guesses: { word: string; p: number }[] }[]> {
  const tok = model.encoder.tokenizer;
  const e = tok.encode(caption);
  const nWords = e.length - 2;
  for (const i of wordIndices)
    if (!Number.isInteger(i) || i < 0 || i >= nWords)
      throw new Error(`fillMasks: word index ${i} is outside the caption's ${nWords} words`);
  const ids = Int32Array.from(e.ids);
  for (const i of wordIndices) ids[i + 1] = MASK;
  const mask = new Float32Array(ids.length).fill(1, 0, e.length);
  const p = tf.tidy(() => tf.softmax(model.logits({ ids, mask, batch: 1, contextLength: tok.contextLength })));
  const probs = (await p.data()) as Float32Array;
  p.dispose();
  const V = tok.size;
  return wordIndices.map((i) => {
    const row = Array.from(probs.subarray((i + 1) * V, (i + 2) * V));
    const order = row.map((p, id) => ({ word: tok.vocab[id], p })).sort((a, b) => b.p - a.p);
    return { word: tok.vocab[e.ids[i + 1]], guesses: order.slice(0, topK) };
  });
}
