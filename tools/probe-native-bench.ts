// Scratch benchmark for the 'onednn' backend (not the course's `npm run bench`):
//  1. GFLOP/s of a large 3x3 conv (forward, input grad, filter grad) through the addon, next to
//     PyTorch on the same shape and thread count;
//  2. one training step (forward + backward + Adam) of a conv-heavy UNet-like net, batch 64, 28x28,
//     on 'onednn' and 'wasm', next to a PyTorch mirror of the same net;
//  3. where the 'onednn' step spends its time, per kernel.
// Usage: npx tsx tools/probe-native-bench.ts [--steps N] [--skip-conv] [--skip-wasm] [--skip-torch] [--blocked]
// Threads: DIFFUSION_THREADS (default: all cores) for oneDNN and PyTorch alike.
import { execFileSync } from 'child_process';
import * as tf from '@tensorflow/tfjs-core';
import '../lib/core/tfjs_setup';
import '@tensorflow/tfjs-backend-wasm';
import { loadAddon, registerNativeBackend } from '../lib/runtime/native';
import { threadCount } from '../lib/runtime/native/addon';
import { Rng } from '../lib/core/random';

const argv = process.argv.slice(2);
const STEPS = Number(argv[argv.indexOf('--steps') + 1]) || 6;
const THREADS = threadCount();
const BATCH = 64;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// ---------- 1. large conv through the addon ----------
function convBench(addon: ReturnType<typeof mustAddon>) {
  const [N, H, W, C, O, K] = [64, 28, 28, 64, 64, 3];
  const flops = 2 * N * H * W * C * O * K * K;
  const rng = new Rng(1);
  const x = rng.normalArray(N * H * W * C),
    w = rng.normalArray(K * K * C * O),
    y = new Float32Array(N * H * W * O);
  // One ArrayBuffer holding x, w, y, as the wasm heap would.
  const heap = new Float32Array(x.length + w.length + y.length);
  heap.set(x, 0);
  heap.set(w, x.length);
  const [xo, wo, yo] = [0, x.length * 4, (x.length + w.length) * 4];
  const params = Int32Array.from([N, H, W, C, K, K, O, H, W, 1, 1, 1, 1, 1, 1, 1, 1]);
  const run = (name: string, f: () => void) => {
    f(); // creates the primitive
    const ts: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      f();
      ts.push(performance.now() - t0);
    }
    const ms = median(ts);
    return { name, ms, gflops: flops / ms / 1e6 };
  };
  return [
    run('forward', () => addon.conv2d(heap.buffer, xo, wo, yo, params)),
    run('input grad', () => addon.conv2dBackpropInput(heap.buffer, yo, wo, xo, params)),
    run('filter grad', () => addon.conv2dBackpropFilter(heap.buffer, xo, yo, wo, params)),
  ];
}

function mustAddon() {
  const l = loadAddon();
  if (!l.ok) throw new Error(l.reason);
  return l.addon;
}

// ---------- 2. a conv-heavy UNet-like net ----------
// Encoder 28 -> 14 -> 7 (stride-2 convs), decoder back up with stride-2 transposed convs and skips.
// Mirrored exactly by TORCH_NET below.
const LAYERS: Array<[string, number, number, number]> = [
  // name, kernel, in, out
  ['in', 3, 1, 32],
  ['e1', 3, 32, 32],
  ['d1', 3, 32, 64],
  ['e2', 3, 64, 64],
  ['d2', 3, 64, 128],
  ['m1', 3, 128, 128],
  ['m2', 3, 128, 128],
  ['u2', 4, 64, 128],
  ['c2', 3, 64, 64],
  ['u1', 4, 32, 64],
  ['c1', 3, 32, 32],
  ['out', 3, 32, 1],
];

function makeParams(rng: Rng): Record<string, tf.Variable> {
  const p: Record<string, tf.Variable> = {};
  for (const [name, k, cin, cout] of LAYERS) {
    // Transposed-conv filters are [k, k, out, in] in tfjs; the fan-in scale is the same.
    p[name] = tf.variable(rng.normalTensor([k, k, cin, cout], 0, Math.sqrt(2 / (k * k * cin))), true, name);
    p[name + '_b'] = tf.variable(tf.zeros([name.startsWith('u') ? cin : cout]), true, name + '_b');
  }
  return p;
}

function forward(p: Record<string, tf.Variable>, x: tf.Tensor4D): tf.Tensor4D {
  const conv = (h: tf.Tensor4D, n: string, s = 1) =>
    tf.add(tf.conv2d(h, p[n] as tf.Tensor4D, s, 'same'), p[n + '_b']) as tf.Tensor4D;
  const up = (h: tf.Tensor4D, n: string) => {
    const [b, hh, ww] = h.shape as [number, number, number, number];
    const cout = p[n].shape[2] as number;
    return tf.add(
      tf.conv2dTranspose(h, p[n] as tf.Tensor4D, [b, 2 * hh, 2 * ww, cout], 2, 'same'),
      p[n + '_b'],
    ) as tf.Tensor4D;
  };
  const h0 = tf.relu(conv(x, 'in'));
  const h1 = tf.relu(conv(h0, 'e1')); // 28x28x32
  const h2 = tf.relu(conv(tf.relu(conv(h1, 'd1', 2)), 'e2')); // 14x14x64
  let m = tf.relu(conv(h2, 'd2', 2)); // 7x7x128
  m = tf.relu(conv(tf.relu(conv(m, 'm1')), 'm2'));
  const g2 = tf.relu(conv(tf.add(up(m, 'u2'), h2) as tf.Tensor4D, 'c2'));
  const g1 = tf.relu(conv(tf.add(up(g2, 'u1'), h1) as tf.Tensor4D, 'c1'));
  return conv(g1, 'out');
}

function netFlops(): number {
  // Multiply-adds of each conv at its resolution, x2 FLOPs, x3 for forward + two gradients.
  const res: Record<string, number> = {
    in: 28,
    e1: 28,
    d1: 14,
    e2: 14,
    d2: 7,
    m1: 7,
    m2: 7,
    u2: 7,
    c2: 14,
    u1: 14,
    c1: 28,
    out: 28,
  };
  let macs = 0;
  for (const [name, k, cin, cout] of LAYERS) macs += BATCH * res[name] ** 2 * k * k * cin * cout;
  return 3 * 2 * macs;
}

async function trainStepMs(backend: string, profile = false): Promise<{ ms: number[]; loss: number }> {
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} failed to start`);
  const rng = new Rng(42);
  const p = makeParams(rng);
  const x = rng.normalTensor([BATCH, 28, 28, 1]) as tf.Tensor4D;
  const target = rng.normalTensor([BATCH, 28, 28, 1]);
  const opt = tf.train.adam(1e-3);
  const step = async () => {
    const l = opt.minimize(() => tf.mean(tf.square(tf.sub(forward(p, x), target))) as tf.Scalar, true) as tf.Scalar;
    const v = (await l.data())[0];
    l.dispose();
    return v;
  };
  await step(); // warm-up: primitive creation, wasm heap growth
  const ms: number[] = [];
  let loss = 0;
  const timer = profile ? startKernelTimer(backend) : null;
  for (let i = 0; i < STEPS; i++) {
    const t0 = performance.now();
    loss = await step();
    ms.push(performance.now() - t0);
  }
  if (timer) timer.report(STEPS);
  opt.dispose();
  tf.dispose(Object.values(p));
  tf.dispose([x, target]);
  return { ms, loss };
}

// ---------- 3. per-kernel time: wrap every kernel of the backend ----------
function startKernelTimer(backend: string) {
  const total = new Map<string, number>();
  const originals = tf.getKernelsForBackend(backend);
  for (const k of originals) {
    tf.unregisterKernel(k.kernelName, backend);
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        const t0 = performance.now();
        const out = k.kernelFunc(args);
        total.set(k.kernelName, (total.get(k.kernelName) ?? 0) + performance.now() - t0);
        return out;
      },
    });
  }
  return {
    report(steps: number) {
      for (const k of originals) {
        tf.unregisterKernel(k.kernelName, backend);
        tf.registerKernel(k);
      }
      const rows = [...total.entries()].sort((a, b) => b[1] - a[1]);
      const sum = rows.reduce((s, r) => s + r[1], 0);
      console.log(`  kernel time per step on ${backend} (sum ${(sum / steps).toFixed(0)} ms):`);
      for (const [name, t] of rows.slice(0, 14))
        console.log(
          `    ${name.padEnd(24)} ${(t / steps).toFixed(1).padStart(7)} ms  ${((100 * t) / sum).toFixed(0)}%`,
        );
    },
  };
}

// ---------- PyTorch mirror ----------
const TORCH = String.raw`
import sys, time, json, statistics, torch, torch.nn as nn, torch.nn.functional as F
threads, batch, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads); torch.manual_seed(0)
def conv_bench():
    N,H,W,C,O=64,28,28,64,64
    x=torch.randn(N,C,H,W,requires_grad=True); w=torch.randn(O,C,3,3,requires_grad=True)
    fl=2*N*H*W*C*O*9; out={}
    for name in ['forward','forward+backward']:
        ts=[]
        for i in range(8):
            t0=time.perf_counter(); y=F.conv2d(x,w,padding=1)
            if name!='forward': y.backward(torch.ones_like(y))
            ts.append(time.perf_counter()-t0)
        out[name]=statistics.median(ts[1:])*1e3
    return {'fwd_ms':out['forward'],'fwd_gflops':fl/out['forward']/1e6,'bwd_ms':out['forward+backward']-out['forward'],
            'bwd_gflops':2*fl/(out['forward+backward']-out['forward'])/1e6}
L=[('in',3,1,32),('e1',3,32,32),('d1',3,32,64),('e2',3,64,64),('d2',3,64,128),('m1',3,128,128),('m2',3,128,128),
   ('u2',4,128,64),('c2',3,64,64),('u1',4,64,32),('c1',3,32,32),('out',3,32,1)]
class Net(nn.Module):
    def __init__(s):
        super().__init__()
        for n,k,ci,co in L:
            setattr(s,n,nn.ConvTranspose2d(ci,co,4,2,1) if n.startswith('u') else nn.Conv2d(ci,co,k,2 if n in('d1','d2') else 1,1))
    def forward(s,x):
        r=F.relu; h0=r(s.__getattr__('in')(x)); h1=r(s.e1(h0)); h2=r(s.e2(r(s.d1(h1)))); m=r(s.d2(h2)); m=r(s.m2(r(s.m1(m))))
        g2=r(s.c2(s.u2(m)+h2)); g1=r(s.c1(s.u1(g2)+h1)); return s.out(g1)
net=Net(); opt=torch.optim.Adam(net.parameters(),1e-3); x=torch.randn(batch,1,28,28); t=torch.randn(batch,1,28,28)
ts=[]
for i in range(steps+1):
    t0=time.perf_counter(); opt.zero_grad(); l=F.mse_loss(net(x),t); l.backward(); opt.step(); ts.append((time.perf_counter()-t0)*1e3)
print(json.dumps({'conv':conv_bench(),'step_ms':ts[1:]}))
`;

function torchBench(): { conv: Record<string, number>; step_ms: number[] } | null {
  try {
    const out = execFileSync('/usr/bin/python3', ['-c', TORCH, String(THREADS), String(BATCH), String(STEPS)], {
      encoding: 'utf8',
    });
    return JSON.parse(out.trim().split('\n').pop() as string);
  } catch (e) {
    console.log(`  PyTorch yardstick unavailable: ${(e as Error).message.split('\n')[0]}`);
    return null;
  }
}

(async () => {
  const reg = await registerNativeBackend();
  if (!reg.ok) throw new Error(reg.reason);
  const addon = mustAddon();
  if (argv.includes('--blocked')) addon.setBlockedActivations(true);
  console.log(`${addon.info()}; batch ${BATCH}; ${STEPS} timed steps; medians`);

  console.log('\n1. conv 3x3, x[64,28,28,64] -> 64 channels (3.70 GFLOP each):');
  for (const r of argv.includes('--skip-conv') ? [] : convBench(addon))
    console.log(`  onednn ${r.name.padEnd(12)} ${r.ms.toFixed(1).padStart(7)} ms  ${r.gflops.toFixed(0)} GFLOP/s`);
  const torch = argv.includes('--skip-torch') ? null : torchBench();
  if (torch) {
    const c = torch.conv;
    console.log(`  torch  forward      ${c.fwd_ms.toFixed(1).padStart(7)} ms  ${c.fwd_gflops.toFixed(0)} GFLOP/s`);
    console.log(`  torch  both grads   ${c.bwd_ms.toFixed(1).padStart(7)} ms  ${c.bwd_gflops.toFixed(0)} GFLOP/s`);
  }

  console.log(`\n2. training step of the UNet-like net (${(netFlops() / 1e9).toFixed(1)} GFLOP in convs):`);
  const results: Array<[string, number]> = [];
  const one = await trainStepMs('onednn', true);
  results.push(['onednn', median(one.ms)]);
  if (!argv.includes('--skip-wasm')) {
    try {
      // The wasm backend trains only with this project's extra kernels (Conv2DBackpropFilter ...).
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const reg = require('../lib/runtime/wasm/register');
      reg.registerWasmTrainingKernels();
      const w = await trainStepMs('wasm');
      results.push(['wasm', median(w.ms)]);
    } catch (e) {
      console.log(`  wasm step unavailable: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  if (torch) results.push(['torch', median(torch.step_ms)]);
  const ref = torch ? median(torch.step_ms) : null;
  for (const [name, ms] of results) {
    console.log(
      `  ${name.padEnd(7)} ${ms.toFixed(0).padStart(6)} ms/step  ${(netFlops() / ms / 1e6).toFixed(0)} GFLOP/s${ref ? `  ratio to torch ${(ms / ref).toFixed(2)}` : ''}`,
    );
  }
})();
