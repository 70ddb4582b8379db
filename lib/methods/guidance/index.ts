// Guidance: steering a diffusion model towards a class (article section 3-1). Lessons import this.
export {
  NoisyClassifier,
  noisyClassifierConfig,
  saveNoisyClassifier,
  loadNoisyClassifier,
  checkLabels,
} from './noisy_classifier';
export type { NoisyClassifierConfig } from './noisy_classifier';
export { trainNoisyClassifier, noisyAccuracy } from './train_noisy_classifier';
export type { NoisyClassifierTrainOptions } from './train_noisy_classifier';
export {
  classifierGradient,
  classifierGuidedModel,
  classifierMeanShift,
  classifierGuidedSample,
  checkScale,
  newPassCounter,
} from './classifier_guidance';
export type { PassCounter, ClassifierGuidedSampleOptions } from './classifier_guidance';
export { cfgConditionModel, cfgModel, concatConditions } from './cfg';
export type { CfgCounter } from './cfg';
export { conditionalFromUnconditional, loadClassConditionalUNet, CLASS_EMBEDDING } from './conditional_init';
export {
  classifierGuidanceAnatomy,
  cfgAnatomy,
  disposeAnatomy,
  classGrid,
  cfgClassGrid,
  classifierClassGrid,
} from './figures';
export type { GuidanceAnatomy, ClassGridOptions } from './figures';
export { fitClassEmbedding, classEmbeddingNorms } from './fit_class_embedding';
export type { FitEmbeddingOptions } from './fit_class_embedding';
