// Lesson 11's Imagen-style pieces in one import (notebooks: './lib/imagen/index').
export * from './cascade';
export * from './configs';
export * from './diagram';
export * from './frozen_text';
export * from './low_res';
export * from './mlm';
export * from './noise_aug';
export * from './shapes_words';
export * from './word_probe';
