// Detecting and scoring objects in shapes images, in one import (notebooks: './lib/eval/shapes/index').
export * from './detect';
export * from './parse_caption';
export * from './perturb';
export * from './score';
