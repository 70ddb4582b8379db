// The course's CLIP-like model in one import (notebooks: './lib/methods/clip/index').
export * from './clip';
export * from './checkpoint';
export * from './attribute_probe';
export * from './hard_negatives';
export * from './retrieval';
export * from './score';
export * from './train_clip';
