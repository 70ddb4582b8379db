// The backend report's GPU line (lib/runtime/gpu_path.ts): which path the notebooks take on a machine
// with a GPU and why, on fake machines (a temporary /proc and /sys tree) and fake reports.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { findGpus, gpuPathLine, PathReport } from '../lib/runtime/gpu_path';

function fakeRoot(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gpu-path-'));
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), text);
  }
  return root;
}

const CUDA_MISSING =
  'CUDA libraries missing: libcudart.so.11.0, libcudnn.so.8 (tfjs-node-gpu needs CUDA 11.2 + cuDNN 8.1 and an NVIDIA driver)';
const report = (backend: string, over: Partial<PathReport> = {}): PathReport => ({
  backend,
  forced: false,
  skipped: [],
  details: [],
  ...over,
});

describe('the backend report says which GPU path the notebooks take', () => {
  it('finds an NVIDIA driver and AMD / Intel render nodes, and nothing on a machine without them', () => {
    const none = fakeRoot({ 'proc/cpuinfo': '' });
    assert.deepEqual(findGpus(none), []);
    const nvidia = fakeRoot({
      'proc/driver/nvidia/version': 'NVRM version: 550.54',
      'sys/class/drm/renderD128/device/vendor': '0x10de\n',
    });
    assert.deepEqual(findGpus(nvidia), [{ vendor: 'NVIDIA', source: '/proc/driver/nvidia/version' }]);
    const two = fakeRoot({
      'sys/class/drm/renderD128/device/vendor': '0x1002\n',
      'sys/class/drm/renderD129/device/vendor': '0x8086\n',
      'sys/class/drm/card0/device/vendor': '0x1002\n',
    });
    assert.deepEqual(
      findGpus(two).map((g) => g.vendor),
      ['AMD', 'Intel'],
    );
    for (const r of [none, nvidia, two]) fs.rmSync(r, { recursive: true, force: true });
  });

  it('CUDA 11 missing -> WebGPU over Vulkan; the reason for skipping CUDA is in the line', () => {
    const line = gpuPathLine(
      report('webgpu', {
        skipped: [{ name: 'tensorflow-gpu', reason: CUDA_MISSING }],
        details: ['WebGPU adapter: nvidia ampere NVIDIA H100'],
      }),
      [{ vendor: 'NVIDIA', source: '/proc/driver/nvidia/version' }],
    );
    assert.match(line, /run on WebGPU over Vulkan \(Dawn\); CUDA not used: CUDA libraries missing: libcudart/);
  });

  it('a GPU with no working path: the CPU backend, both reasons, and what to install', () => {
    const line = gpuPathLine(
      report('onednn', {
        skipped: [
          { name: 'tensorflow-gpu', reason: CUDA_MISSING },
          {
            name: 'webgpu',
            reason:
              'no WebGPU adapter: libvulkan.so.1 missing (Debian/Ubuntu: apt-get install libvulkan1; needs a real GPU)',
          },
        ],
      }),
      [{ vendor: 'AMD', source: '/sys/class/drm/renderD128' }],
    );
    assert.match(
      line,
      /^AMD found, but the notebooks run on the CPU \(onednn\): CUDA: .*; WebGPU: .*libvulkan\.so\.1 missing/,
    );
    assert.match(line, /apt-get install libvulkan1\), then DIFFUSION_BACKEND=webgpu/);
  });

  it('CUDA itself, a forced CPU backend, the OpenGL check path, and a machine without a GPU', () => {
    assert.match(
      gpuPathLine(report('tensorflow-gpu'), [{ vendor: 'NVIDIA', source: 'x' }]),
      /^the notebooks run on CUDA/,
    );
    assert.match(
      gpuPathLine(report('wasm', { forced: true }), [{ vendor: 'Intel', source: 'x' }]),
      /^Intel found, not used: the backend is forced to wasm/,
    );
    assert.match(
      gpuPathLine(
        report('webgpu', { details: ["WebGPU adapter: mesa llvmpipe (Dawn's OpenGL backend, compatibility mode)"] }),
        [],
      ),
      /OpenGL backend \(on Mesa's llvmpipe this is the CPU/,
    );
    assert.match(gpuPathLine(report('onednn'), []), /^none found .*: the notebooks run on the CPU \(onednn\)$/);
  });
});
