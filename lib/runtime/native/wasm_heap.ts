// Access to where a wasm-backend tensor lives, so native code can read and write it in place.
import type { DataId, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** The wasm memory buffer. Take it after every allocation: growing the memory replaces it. */
export function heapOf(backend: BackendWasm): ArrayBuffer {
  return (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.buffer as ArrayBuffer;
}

/** Byte offset of a tensor's data in the wasm heap. */
export function offsetOf(backend: BackendWasm, t: TensorInfo | { dataId: DataId }): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}
