// Lesson 14's measurement: do objects land in their boxes? For held-out scenes (1-2 objects), the
// same captions and the same starting noise are sampled three ways:
//   text only      the frozen lesson-13 text model (GLIGEN's gated layers skipped: exactly the base)
//   text + boxes   GLIGEN: caption and grounding tokens together
//   boxes only     GLIGEN with an empty caption: the phrases in the grounding tokens say what
//                  (unguided: with an empty caption CFG's two halves would be identical)
// and scored by the share of requested objects whose detection (same colour; also same shape in
// the second column) has IoU >= 0.5 with the requested box. Goal: >= 80% with grounding.
import { loadPretrained } from '../course/models';
import { LoadedAutoencoder } from '../methods/latent/ldm';
import { boxCentre, GroundedObject, objectPhrase, PhraseEmbedder } from '../methods/gligen/grounding';
import { gateValues } from '../methods/gligen/model';
import { sampleGrounded } from '../methods/gligen/sample';
import { TextUNet } from '../methods/text/text_unet';
import {
  evaluatePlacement,
  formatPlacementTable,
  placementRecord,
  placementScenes,
  PlacementResult,
} from './box_placement';

export interface Lesson14Options {
  n: number;
  seed: number;
  batch: number;
  steps: number;
  guidance?: number;
  /** GLIGEN's layers; default: the shipped ones ('14/gligen'). */
  checkpoint?: string;
  /**
   * Also sample caption + one point per object (the box centre) with the point-grounded layers
   * ('14/gligen-point', or this file), scored against the scene's true boxes like the others.
   */
  points?: boolean | string;
  backend?: string;
}

export const LESSON14_GOAL = 0.8;

export async function runLesson14(
  o: Lesson14Options,
): Promise<{ table: string; record: Record<string, unknown>; results: PlacementResult[] }> {
  const w = o.guidance ?? 3;
  const auto: LoadedAutoencoder = loadPretrained('13/autoencoder');
  const unet: TextUNet = loadPretrained('14/gligen', o.checkpoint);
  const results: PlacementResult[] = [];
  try {
    const embedder = new PhraseEmbedder(unet.text);
    const scenes = placementScenes(o.n);
    const grounded: GroundedObject[][] = scenes.objects.map((objs) =>
      objs.map((x) => ({ phrase: objectPhrase(x), box: x.box })),
    );
    const run = (name: string, text: boolean, boxes: boolean, guidance: number) =>
      evaluatePlacement(name, scenes, o.batch, (idx, b) =>
        sampleGrounded(
          unet,
          auto,
          embedder,
          idx.map((i) => (text ? scenes.captions[i] : '')),
          boxes ? idx.map((i) => grounded[i]) : null,
          { guidance, steps: o.steps, seed: o.seed * 1000 + b },
        ),
      );
    results.push(await run(`text only (frozen LDM) w=${w}`, true, false, w));
    console.error('text only done');
    results.push(await run(`text + boxes (GLIGEN) w=${w}`, true, true, w));
    console.error('text + boxes done');
    // Unguided: guidance acts on the caption, and with an empty one both CFG halves are the same
    // input (caption '', the same boxes), so eps_u + w (eps_c - eps_u) = eps_c for every w: w = 1
    // samples the same images with one network pass per step instead of two.
    results.push(await run(`boxes only (GLIGEN, caption '') w=1`, false, true, 1));
    console.error('boxes only done');
    if (o.points) {
      const pointModel: TextUNet = loadPretrained('14/gligen-point', o.points === true ? undefined : o.points);
      try {
        const pointScenes: GroundedObject[][] = scenes.objects.map((objs) =>
          objs.map((x) => ({ phrase: objectPhrase(x), point: boxCentre(x.box) })),
        );
        results.push(
          await evaluatePlacement(`text + points (GLIGEN point model) w=${w}`, scenes, o.batch, (idx, b) =>
            sampleGrounded(
              pointModel,
              auto,
              embedder,
              idx.map((i) => scenes.captions[i]),
              idx.map((i) => pointScenes[i]),
              { guidance: w, steps: o.steps, seed: o.seed * 1000 + b },
            ),
          ),
        );
      } finally {
        pointModel.dispose();
      }
      console.error('text + points done');
    }
    const [base, both] = results;
    const record = {
      lesson: '14',
      sampler: 'ddim',
      steps: o.steps,
      guidance: w,
      seed: o.seed,
      backend: o.backend,
      iou50_share_with_grounding: placementRecord(both).iou50_share,
      iou50_share_without_grounding: placementRecord(base).iou50_share,
      goal: `>= ${LESSON14_GOAL * 100}% of objects with IoU >= 0.5 with grounding`,
      goal_reached: both.hitRate >= LESSON14_GOAL,
      gates: await gateValues(unet),
      methods: results.map(placementRecord),
    };
    return { table: formatPlacementTable(results), record, results };
  } catch (e) {
    results.forEach((r) => r.samples.dispose());
    throw e;
  } finally {
    auto.ae.dispose();
    unet.dispose();
  }
}
