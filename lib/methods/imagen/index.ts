// Lesson 11's Imagen-style pieces in one import (notebooks: './lib/methods/imagen/index';
// the cascade's diagram is './lib/course/diagrams/imagen').
export * from './cascade';
export * from './configs';
export * from '../../course/diagrams/imagen';
export * from './frozen_text';
export * from './low_res';
export * from './mlm';
export * from './noise_aug';
export * from './shapes_words';
export * from './word_probe';
