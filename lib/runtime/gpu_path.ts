// One line of the backend report for machines with a GPU: which path the notebooks take on it and why
// the others were not taken (CUDA 11 libraries missing -> WebGPU over Vulkan, or no path -> the CPU),
// and for machines without one, that none was found. Pure functions over what the report and the
// file system say, so the tests can hand in any machine.
import * as fs from 'fs';
import * as path from 'path';

export type GpuVendor = 'NVIDIA' | 'AMD' | 'Intel' | 'other';

export interface GpuFound {
  vendor: GpuVendor;
  /** Where it was seen, e.g. '/proc/driver/nvidia/version' or '/sys/class/drm/renderD128'. */
  source: string;
}

/** The part of a BackendReport this line reads (a structural type: backend.ts imports this file). */
export interface PathReport {
  backend: string;
  forced: boolean;
  skipped: { name: string; reason: string }[];
  details: string[];
}

const PCI_VENDORS: Record<string, GpuVendor> = { '0x10de': 'NVIDIA', '0x1002': 'AMD', '0x8086': 'Intel' };

/**
 * GPUs the kernel exposes: NVIDIA's driver (/proc/driver/nvidia/version, also inside containers the GPU
 * is passed to) and DRM render nodes (/sys/class/drm/renderD*, with the PCI vendor of their device).
 * `root` lets the tests point it at a fake tree.
 */
export function findGpus(root = '/'): GpuFound[] {
  const found: GpuFound[] = [];
  const at = (...p: string[]) => path.join(root, ...p);
  if (fs.existsSync(at('proc/driver/nvidia/version')) || fs.existsSync(at('dev/nvidia0')))
    found.push({ vendor: 'NVIDIA', source: '/proc/driver/nvidia/version' });
  let nodes: string[] = [];
  try {
    nodes = fs.readdirSync(at('sys/class/drm')).filter((n) => /^renderD\d+$/.test(n));
  } catch {
    nodes = [];
  }
  for (const n of nodes.sort()) {
    let id = '';
    try {
      id = fs
        .readFileSync(at('sys/class/drm', n, 'device/vendor'), 'utf8')
        .trim()
        .toLowerCase();
    } catch {
      id = '';
    }
    const vendor = PCI_VENDORS[id] ?? 'other';
    // NVIDIA's render node is the same card as its driver entry above.
    if (vendor === 'NVIDIA' && found.some((g) => g.vendor === 'NVIDIA')) continue;
    found.push({ vendor, source: `/sys/class/drm/${n}` });
  }
  return found;
}

const CPU_BACKENDS = new Set(['tensorflow', 'onednn', 'wasm', 'cpu']);

/** The report's GPU line (without the leading 'GPU: '). */
export function gpuPathLine(r: PathReport, gpus: readonly GpuFound[]): string {
  const reason = (name: string) => r.skipped.find((s) => s.name === name)?.reason;
  const cuda = reason('tensorflow-gpu');
  const webgpu = reason('webgpu');
  const names = gpus.length ? [...new Set(gpus.map((g) => g.vendor))].join(' + ') : '';
  if (r.backend === 'tensorflow-gpu') return `the notebooks run on CUDA (tfjs-node-gpu)${names ? `, ${names}` : ''}`;
  if (r.backend === 'webgpu') {
    // The adapter's name is on the report's next line (details).
    const viaGl = r.details.some((d) => /OpenGL backend/.test(d));
    const via = viaGl
      ? "WebGPU over Dawn's OpenGL backend (on Mesa's llvmpipe this is the CPU: slow, for checking kernels)"
      : 'WebGPU over Vulkan (Dawn)';
    return `the notebooks run on ${via}${cuda ? `; CUDA not used: ${cuda}` : ''}`;
  }
  if (!CPU_BACKENDS.has(r.backend)) return `the notebooks run on ${r.backend}`;
  if (gpus.length === 0)
    return (
      `none found (no NVIDIA driver in /proc/driver/nvidia, no render node in /sys/class/drm): the notebooks run ` +
      `on the CPU (${r.backend})`
    );
  if (r.forced)
    return `${names} found, not used: the backend is forced to ${r.backend} (unset DIFFUSION_BACKEND, or set it to webgpu)`;
  const why = [cuda ? `CUDA: ${cuda}` : null, webgpu ? `WebGPU: ${webgpu}` : null].filter((s) => s).join('; ');
  return (
    `${names} found, but the notebooks run on the CPU (${r.backend})${why ? `: ${why}` : ''}. To use it: the GPU ` +
    'driver and the Vulkan loader (apt-get install libvulkan1), then DIFFUSION_BACKEND=webgpu (docs/gpu.md)'
  );
}
