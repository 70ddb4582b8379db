// Work-arounds for tfjs-backend-webgpu 4.22 under Node, installed by lib/runtime/backend.ts once the webgpu
// backend is set.
import * as tf from '@tensorflow/tfjs-core';

// tfjs-webgpu reads a GPU tensor synchronously (dataSync, arraySync) by drawing it into an
// OffscreenCanvas; Node has none, and the bare "OffscreenCanvas is not defined" does not say what to do.
export function explainSyncReads(backend: { readSync(dataId: object): unknown }): void {
  const readSync = backend.readSync.bind(backend);
  backend.readSync = (dataId: object) => {
    try {
      return readSync(dataId);
    } catch (e) {
      if (e instanceof ReferenceError && /OffscreenCanvas/.test(e.message)) {
        throw new Error(
          'webgpu under Node cannot read a GPU tensor synchronously (dataSync/arraySync: tfjs-webgpu copies through an OffscreenCanvas, and OffscreenCanvas is not defined in Node); read it with await tensor.data()',
        );
      }
      throw e;
    }
  };
}

// Replaces a webgpu kernel by a wrapper around the original (the fixes below): nothing when webgpu
// has no such kernel.
function wrapWebgpuKernel(name: string, wrap: (original: tf.KernelFunc) => tf.KernelFunc): void {
  const original = tf.getKernel(name, 'webgpu');
  if (!original) return;
  tf.unregisterKernel(name, 'webgpu');
  tf.registerKernel({ kernelName: name, backendName: 'webgpu', kernelFunc: wrap(original.kernelFunc) });
}

// tfjs-webgpu 4.22 runs AddN as one shader that binds every input. Past the device's storage-buffer
// limit per shader stage (WebGPU's default is 8, one of them the output) the pipeline is invalid and
// the result silently zeros, with only a validation message on stderr: the gradient norm over all
// weights (lib/core/train/grad_clip.ts) sums one scalar per weight tensor. Add in chunks instead.
export function chunkWebgpuAddN(): void {
  wrapWebgpuKernel(tf.AddN, (addN) => (args) => {
    const backend = args.backend as unknown as {
      device: { limits: { maxStorageBuffersPerShaderStage: number } };
      disposeData(id: object): void;
    };
    const most = Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage - 1);
    let level = args.inputs as unknown as tf.TensorInfo[];
    const partial: tf.TensorInfo[] = [];
    while (level.length > most) {
      const next: tf.TensorInfo[] = [];
      for (let i = 0; i < level.length; i += most) {
        const chunk = level.slice(i, i + most);
        if (chunk.length === 1) {
          next.push(chunk[0]);
          continue;
        }
        const sum = addN({ ...args, inputs: chunk as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo;
        partial.push(sum);
        next.push(sum);
      }
      level = next;
    }
    const out = addN({ ...args, inputs: level as unknown as tf.NamedTensorInfoMap });
    for (const t of partial) backend.disposeData(t.dataId);
    return out;
  });
}

// tfjs-webgpu 4.22's Tile has no shader for rank 5 and up and tiles those on the CPU after a synchronous
// read, which fails under Node (lesson 08's repeatEach tiles [B, 1, H, W, C]). Tiling is separable: tile
// one axis at a time, each as a rank-3 tile [before, axis, after] of a reshape (reshapes share the data).
export function tileHighRankOnGpu(): void {
  const reshapeKernel = tf.getKernel(tf.Reshape, 'webgpu');
  if (!reshapeKernel) return;
  const reshape = reshapeKernel.kernelFunc;
  wrapWebgpuKernel(tf.Tile, (tile) => (args) => {
    const x = (args.inputs as unknown as { x: tf.TensorInfo }).x;
    const backend = args.backend as unknown as {
      shouldExecuteOnCPU(inputs: tf.TensorInfo[]): boolean;
      disposeData(id: object): void;
    };
    // The original's CPU path is fine where the values are already on the CPU (no GPU read).
    if (x.shape.length < 5 || x.dtype === 'string' || backend.shouldExecuteOnCPU([x])) return tile(args);
    const reps = (args.attrs as unknown as { reps: number[] }).reps;
    const shape = x.shape.slice();
    const size = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
    const temps: tf.TensorInfo[] = [];
    let cur = x;
    for (let axis = 0; axis < shape.length; axis++) {
      if (reps[axis] === 1) continue;
      const flat = [size(shape.slice(0, axis)), shape[axis], size(shape.slice(axis + 1))];
      const r3 = reshape({ inputs: { x: cur }, backend: args.backend, attrs: { shape: flat } }) as tf.TensorInfo;
      const t3 = tile({ inputs: { x: r3 }, backend: args.backend, attrs: { reps: [1, reps[axis], 1] } });
      temps.push(r3, t3 as tf.TensorInfo);
      shape[axis] *= reps[axis];
      cur = t3 as tf.TensorInfo;
    }
    const out = reshape({ inputs: { x: cur }, backend: args.backend, attrs: { shape } });
    for (const t of temps) backend.disposeData(t.dataId);
    return out;
  });
}
