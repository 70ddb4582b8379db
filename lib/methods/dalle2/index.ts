// Lesson 12 (DALL·E 2 / unCLIP) in one import (notebooks: './lib/dalle2/index').
export * from './checkpoint';
export * from './decoder_batches';
export * from './decoder_init';
export * from './diagram';
export * from './embedding_space';
export * from './encode_set';
export * from './prior';
export * from './unclip';
