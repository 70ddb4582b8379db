// Registers tfjs's gradients and chained ops (x.reshape(...)), which tfjs-core alone does not.
// tfjs-core ships them only as per-file ES modules with extension-less imports, which tsx can load
// but tslab's plain Node require cannot; the CommonJS bundle of '@tensorflow/tfjs' registers them
// on the same (deduplicated) tfjs-core instance. Import this module for its side effect.
import '@tensorflow/tfjs';
