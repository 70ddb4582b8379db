// Lesson 12 (DALL·E 2 / unCLIP) in one import (notebooks: './lib/methods/dalle2/index';
// the unCLIP diagram is './lib/course/diagrams/dalle2').
export * from './checkpoint';
export * from './decoder_batches';
export * from './decoder_init';
export * from '../../course/diagrams/dalle2';
export * from './embedding_space';
export * from './encode_set';
export * from './prior';
export * from './unclip';
