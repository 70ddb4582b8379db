// Image-quality metrics in one import (notebooks: import from './lib/eval/metrics/index').
export * from './classifier';
export * from './fid';
export * from './fid_bootstrap';
export * from './kid';
export * from './linalg';
export * from './report';
export { trainClassifier, crossEntropy } from './train_classifier';
export type { ClassifierTrainOptions } from './train_classifier';
export { readWeights, writeWeights, WEIGHTS_FORMAT } from './weights_file';
export type { WeightsManifest, NamedArray } from './weights_file';
export * from './nearest_centroid';
