#!/usr/bin/python3
"""Interrupts long cells of the course kernel through Jupyter's own client, as a learner's Interrupt does.

Starts the `diffusion-ts` kernel, then for a training cell (the Trainer, checkpoints in a temp folder),
a sampling cell that runs in the cell's synchronous part and one that runs after an await: runs it,
sends Interrupt (jupyter_client's interrupt_kernel: SIGINT to the kernel's process group) once it is
under way, and measures how long until the cell's interrupted message arrives, whether the next cell
answers (and how fast), and the tensor count before and after. Prints one JSON object; the checks
are in tests/interrupt.spec.ts.
"""
import json
import os
import queue
import re
import signal
import sys
import tempfile
import time

from jupyter_client.manager import KernelManager

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ['JUPYTER_PATH'] = os.pathsep.join(p for p in [os.path.join(ROOT, 'jupyter'), os.environ.get('JUPYTER_PATH', '')] if p)
CKPT = tempfile.mkdtemp(prefix='interrupt-ckpt-')
# Every wait is bounded, and all of them together stay under the spec's 590 s, so a stuck kernel
# fails here with the transcript instead of being killed by the spec with nothing to show.
DEADLINE = time.time() + float(os.environ.get('INTERRUPT_KERNEL_BUDGET_S', '500'))
# An interrupted cell must end (reply + idle) this long after Interrupt.
AFTER_INTERRUPT_S = 60

SETUP = """
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './lib/runtime/backend';
import { Rng } from './lib/core/random';
import { linearSchedule } from './lib/core/schedule';
import { UNet, resolveUNetConfig } from './lib/core/unet/unet';
import { Trainer } from './lib/core/train/trainer';
import { runTrainer } from './lib/core/train/loss_trainer';
import { DDPMSampler } from './lib/core/samplers/ddpm';
import { unetModel } from './lib/core/samplers/types';
import { sampleInBatches } from './lib/eval/batched_sampling';
await initBackend();
const schedule = linearSchedule(1000);
const config = resolveUNetConfig({
  imageSize: 16, inChannels: 1, outChannels: 1, baseChannels: 8, channelMults: [1, 2],
  numResBlocks: 1, groups: 4, attentionHeads: 2, midAttention: false,
});
const net = new UNet(config, { seed: 1 });
const batches = (step: number) => ({ x: new Rng(step).normalTensor([8, 16, 16, 1]) as tf.Tensor4D });
const ddpm = new DDPMSampler(schedule);
const tensors = () => console.log(`tensors ${tf.memory().numTensors}`);
tensors();
"""


# The kernel's first long loop (a short sampling) runs in this cell's synchronous part: the Interrupt
# hook it installs must not turn the Interrupt of the training after the await into the kernel's exit.
TRAIN = f"""
ddpm.sample(unetModel(net), [1, 16, 16, 1], {{ steps: 2, rng: new Rng(9) }}).dispose();
await runTrainer(
  new Trainer(net, {{ schedule: schedule, totalSteps: 3000, learningRate: 1e-3, checkpointDir: {json.dumps(CKPT)}, checkpointEvery: 1000 }}),
  batches,
);
"""

# The sampling loop runs in the cell's synchronous part: Node stops it at once on SIGINT.
SAMPLE_SYNC = """
const xs = ddpm.sample(unetModel(net), [16, 16, 16, 1], { steps: 1000, rng: new Rng(2) });
"""

# The sampling loop runs after an await (as in cells that load or train first): it stops at a step.
# Its bar's updates wait in the kernel while the loop runs synchronously, so Interrupt goes by time.
SAMPLE_ASYNC = """
await new Promise((r) => setTimeout(r, 10));
const many = await sampleInBatches(
  { n: 64, batchSize: 16, seed: 3, imageShape: [16, 16, 1], steps: 250, label: 'ddpm' },
  (b) => ddpm.sample(unetModel(net), [b.size, 16, 16, 1], { steps: 250, rng: b.rng, xT: b.xT, onStep: b.onStep }),
);
"""

# After an interrupt the signal is reset: the next long loop runs to its end.
AFTER = """
const short = new Trainer(net, { schedule: schedule, totalSteps: 3, learningRate: 1e-3, progress: false });
await short.train(batches);
console.log(`trained ${short.step} steps`);
short.dispose();
tensors();
"""


class Kernel:
    def __init__(self):
        self.km = KernelManager(kernel_name='diffusion-ts')
        self.km.start_kernel(cwd=ROOT)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=180)
        self.failed_counts = []

    def run(self, code, interrupt_when=None, wait_for=None, timeout=300):
        """Runs a cell; interrupt_when(text, seconds) -> True sends Interrupt once. Collects the cell's
        output until it is idle and, when wait_for is given, until that text arrived (output of an
        interrupted asynchronous cell arrives after it went idle)."""
        # tslab aborts requests that arrive within 200 ms of a failed cell (as if queued behind it);
        # a learner's next cell comes later than that.
        time.sleep(0.3)
        msg_id = self.kc.execute(code)
        t0 = time.time()
        text, idle_at, interrupted_at, reply = '', None, None, None
        while True:
            now = time.time()
            late = None
            if now - t0 > timeout:
                late = f'within {timeout}s'
            elif interrupted_at is not None and now - interrupted_at > AFTER_INTERRUPT_S:
                late = f'within {AFTER_INTERRUPT_S}s of Interrupt'
            elif now > DEADLINE:
                late = 'before the helper\'s overall deadline'
            if late:
                raise RuntimeError(
                    f'cell did not finish {late} (reply: {reply}, idle: {idle_at is not None}, '
                    f'interrupt at {interrupted_at and interrupted_at - t0}):\n{code.strip()}\n'
                    f'--- output so far:\n{text}'
                )
            if interrupted_at is None and interrupt_when is not None and interrupt_when(text, now - t0):
                self.km.interrupt_kernel()
                interrupted_at = time.time()
            try:
                msg = self.kc.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                msg = None
            if msg is not None and msg['parent_header'].get('msg_id') == msg_id:
                kind, c = msg['msg_type'], msg['content']
                if kind == 'stream':
                    text += c['text']
                elif kind in ('display_data', 'update_display_data'):
                    text += c['data'].get('text/plain', '') + '\n'
                elif kind == 'error':
                    text += f"{c['ename']}: {c['evalue']}\n"
                elif kind == 'status' and c['execution_state'] == 'idle' and idle_at is None:
                    idle_at = time.time()
            if reply is None:
                try:
                    r = self.kc.get_shell_msg(timeout=0)
                    if r['parent_header'].get('msg_id') == msg_id:
                        reply = r['content']['status']
                except queue.Empty:
                    pass
            if idle_at is not None and reply is not None:
                # A cell that ended by itself has nothing more to say; an interrupted one gets 30 s.
                if wait_for is None or wait_for in text or interrupted_at is None:
                    break
                if time.time() - interrupted_at > 30:
                    break
        end = time.time()
        # The transcript on stderr: what a failing spec shows.
        print(f'--- cell ({reply}, {end - t0:.1f}s, interrupt at {interrupted_at and interrupted_at - t0}):\n{code.strip()}\n--- output:\n{text}', file=sys.stderr, flush=True)
        found = text.find(wait_for) if wait_for else -1
        if wait_for and found < 0:
            end = None
        return {
            'status': reply,
            'text': text,
            'seconds': time.time() - t0,
            # From Interrupt to the cell's interrupted message.
            'stopSeconds': (end - interrupted_at) if interrupted_at and end else None,
            'found': found >= 0,
        }

    def tensors(self):
        r = self.run('tensors();', timeout=60)
        if 'tensors ' not in r['text']:
            raise RuntimeError(f"the tensor count cell printed no count ({r['status']}):\n{r['text']}")
        if r['status'] != 'ok':
            # E.g. Node's stop for an earlier SIGINT that reached this cell instead of the interrupted one.
            self.failed_counts.append(r['text'])
        return int(r['text'].split('tensors ')[-1].split()[0]), r['seconds']

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def bar_steps(text, label):
    """The largest step count a progress bar with this label showed so far ('label  1%|█  | 12/3000 [')."""
    done = [int(m.group(1)) for m in re.finditer(r'^' + re.escape(label) + r' .*\| (\d+)/\d+ \[', text, re.M)]
    return max(done, default=0)


def main():
    # Killed by the spec's timeout (SIGTERM): still shut the kernel down rather than leave it running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit('interrupt_kernel.py: terminated'))
    k = Kernel()
    out = {'checkpointDir': CKPT}
    try:
        setup = k.run(SETUP, timeout=300)
        if setup['status'] != 'ok':
            raise RuntimeError('setup cell failed:\n' + setup['text'])
        out['baseline'], _ = k.tensors()

        train = k.run(TRAIN, interrupt_when=lambda t, s: bar_steps(t, 'train') >= 3, wait_for='Training interrupted at step')
        out['train'] = train
        out['checkpoints'] = sorted(os.listdir(CKPT))
        out['afterTrain'], out['afterTrainSeconds'] = k.tensors()

        sync = k.run(SAMPLE_SYNC, interrupt_when=lambda t, s: s >= 3, wait_for='interrupted at step')
        out['sampleSync'] = sync
        out['afterSampleSync'], out['afterSampleSyncSeconds'] = k.tensors()

        asyn = k.run(SAMPLE_ASYNC, interrupt_when=lambda t, s: s >= 4, wait_for='interrupted at step')
        out['sampleAsync'] = asyn
        out['afterSampleAsync'], out['afterSampleAsyncSeconds'] = k.tensors()

        after = k.run(AFTER, timeout=120)
        out['after'] = after
        out['afterCount'] = int(after['text'].split('tensors ')[-1].split()[0]) if 'tensors ' in after['text'] else None
        out['failedCounts'] = k.failed_counts
    finally:
        k.close()
    print(json.dumps(out))


if __name__ == '__main__':
    sys.exit(main())
