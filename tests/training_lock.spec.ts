// Concurrency and interruption (issue 24, class 4): a training takes a lock in its checkpoint folder,
// so a second training into it (another process) refuses to start, naming the holder; a lock left by a
// killed process is taken over by the next run, which says so; a write killed with kill -9
// leaves a temporary file that the next start removes (a live process's are kept); deleting
// checkpoints under a running training is refused; resuming a run already at or past its step count
// says so.
import { strict as assert } from 'assert';
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { removeOrphanTemps } from '../lib/core/checkpoint/atomic_write';
import { LossTrainer, removeCheckpoints } from '../lib/core/train/loss_trainer';
import { acquireRunLock, LOCK_NAME, RunLockError } from '../lib/core/train/run_lock';
import { tempDir } from './helpers/training';

const ROOT = path.resolve(__dirname, '..');
// node itself with tsx's loader, not the tsx launcher: the pid is then the process that takes the lock
// or writes the file, and kill -9 stops that process (not a launcher that would leave it running).
const NODE_TS = [process.execPath, '--require', 'tsx/cjs'] as const;
const FIXTURES = path.join(ROOT, 'tests', 'fixtures');

/** Resolves when `child` has printed `marker` on stdout (rejects if it exits first). */
function waitFor(child: ChildProcess, marker: string, ms = 120_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no '${marker}' within ${ms} ms: ${out} ${err}`)), ms);
    child.stderr!.on('data', (d) => (err += String(d)));
    child.stdout!.on('data', (d) => {
      out += String(d);
      if (out.includes(marker)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before '${marker}': ${out} ${err}`));
    });
  });
}

function trainChild(
  dir: string,
  steps: number,
  delayMs: number,
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(
    NODE_TS[0],
    [...NODE_TS.slice(1), path.join(FIXTURES, 'lock_trainer.ts'), dir, String(steps), String(delayMs)],
    {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function until(cond: () => boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (cond()) resolve();
      else if (Date.now() - t0 > ms) reject(new Error('timed out'));
      else setTimeout(tick, 50);
    };
    tick();
  });
}

describe('one training per folder; interrupted writes leave nothing behind', function () {
  this.timeout(300_000);
  let dir = '';
  before(async () => {
    await tf.setBackend('cpu');
    dir = tempDir('lock-spec-');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("a second training into the folder refuses to start; a killed run's stale lock is taken over, saying so", async () => {
    const out = path.join(dir, 'two');
    // The first training runs for minutes (3000 steps of 100 ms) unless killed.
    const first = spawn(NODE_TS[0], [...NODE_TS.slice(1), path.join(FIXTURES, 'lock_trainer.ts'), out, '3000', '100'], {
      cwd: ROOT,
    });
    try {
      await waitFor(first, 'STARTED');
      const lock = JSON.parse(fs.readFileSync(path.join(out, LOCK_NAME), 'utf8')) as { pid: number; started: string };
      assert.ok(lock.pid > 0 && !Number.isNaN(Date.parse(lock.started)), JSON.stringify(lock));
      const second = trainChild(out, 10, 0);
      assert.equal(second.status, 3, second.stdout + second.stderr);
      assert.match(
        second.stderr,
        /is in use by another training: process \d+ on .* \(LossTrainer, started .*\) holds .*\.training\.lock/,
      );
      assert.equal(lock.pid, first.pid);
      assert.ok(second.stderr.includes(`process ${lock.pid} `), second.stderr);
      // One line, no stack trace; refused before it read the first one's checkpoints (no resume).
      assert.equal(second.stderr.split('\n').filter((l) => /refusing|at .*\.ts:\d+/.test(l)).length, 1, second.stderr);
      assert.doesNotMatch(second.stdout, /RESUMED/);
      assert.doesNotMatch(second.stdout, /STARTED/);
      // Deleting its checkpoints (a --fresh start) from here is refused too.
      assert.throws(() => removeCheckpoints(out), RunLockError);
      assert.ok(fs.readdirSync(out).some((f) => f.startsWith('step-')));
      first.kill('SIGKILL');
      await new Promise((r) => first.once('exit', r));
      // The dead holder's lock is taken over, saying whose it was; the run resumes from its checkpoints.
      // A checkpoint of step >= 1 exists (asserted above), however far the first run got before the kill.
      const third = trainChild(out, 1, 0);
      assert.equal(third.status, 0, third.stdout + third.stderr);
      assert.match(third.stderr, new RegExp(`took over the stale lock of process ${lock.pid} .*no longer running`));
      assert.match(third.stdout, /RESUMED (\d+)\nDONE \1\n/); // already past 1 step: says so, trains none
      assert.match(third.stderr, /already past totalSteps 1 \(--steps\): nothing left to train/);
      assert.equal(fs.existsSync(path.join(out, LOCK_NAME)), false, 'the lock outlived its run');
      assert.equal(fs.existsSync(path.join(out, `${LOCK_NAME}.takeover`)), false);
    } finally {
      first.kill('SIGKILL');
    }
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`a training stopped by ${signal} (Ctrl-C, kill) releases its lock and dies by that signal`, async () => {
      const out = path.join(dir, `signal-${signal}`);
      const run = spawn(NODE_TS[0], [...NODE_TS.slice(1), path.join(FIXTURES, 'lock_trainer.ts'), out, '3000', '50'], {
        cwd: ROOT,
      });
      try {
        await waitFor(run, 'STARTED');
        assert.ok(fs.existsSync(path.join(out, LOCK_NAME)));
        const exited = new Promise<NodeJS.Signals | null>((r) => run.once('exit', (_code, sig) => r(sig)));
        run.kill(signal);
        assert.equal(await exited, signal);
        assert.equal(fs.existsSync(path.join(out, LOCK_NAME)), false, 'the lock outlived its run');
        const next = trainChild(out, 1, 0); // the folder is free: the next run resumes there
        assert.equal(next.status, 0, next.stderr);
        assert.match(next.stdout, /RESUMED \d+/);
      } finally {
        run.kill('SIGKILL');
      }
    });
  }

  it('Ctrl-C in a training script: it stops after the step in progress, unlocks and exits 130; a second quits at once', async () => {
    for (const presses of [1, 2]) {
      const out = path.join(dir, `ctrl-c-${presses}`);
      // One press: 200 ms steps, so the loop sees it at the next boundary. Two: a step that lasts a minute.
      const delay = presses === 1 ? '200' : '60000';
      const run = spawn(
        NODE_TS[0],
        [...NODE_TS.slice(1), path.join(FIXTURES, 'lock_trainer.ts'), out, '3000', delay, 'ctrl-c'],
        {
          cwd: ROOT,
        },
      );
      try {
        let err = '';
        run.stderr!.on('data', (d) => (err += String(d)));
        await waitFor(run, 'STARTED');
        const exited = new Promise<number | null>((r) => run.once('exit', (code) => r(code)));
        const t0 = Date.now();
        run.kill('SIGINT');
        if (presses === 2) {
          await new Promise((r) => setTimeout(r, 1500)); // signals closer than 1 s count as one press
          run.kill('SIGINT');
        }
        assert.equal(await exited, 130, err);
        assert.ok(Date.now() - t0 < 30_000, 'the second Ctrl-C did not quit at once');
        assert.match(err, /Ctrl-C: stopping after the step in progress/);
        if (presses === 1)
          assert.match(
            err,
            /Training interrupted at step \d+ of 3000; checkpoint written to .*Run the same command again/,
          );
        assert.equal(fs.existsSync(path.join(out, LOCK_NAME)), false, 'the lock outlived its run');
        if (presses === 1) {
          const next = trainChild(out, 1, 0);
          assert.equal(next.status, 0, next.stderr);
          assert.match(next.stdout, /RESUMED \d+/);
        }
      } finally {
        run.kill('SIGKILL');
      }
    }
  });

  it('outside a training loop such a script still dies at once on Ctrl-C (a synchronous phase never yields to a listener)', async () => {
    const cancel = JSON.stringify(path.join(ROOT, 'lib', 'core', 'cancel.ts'));
    const code = `require(${cancel}).stopTrainingOnCtrlC(); console.log('BUSY'); for (;;) {}`;
    const run = spawn(NODE_TS[0], [...NODE_TS.slice(1), '-e', code], { cwd: ROOT });
    try {
      await waitFor(run, 'BUSY');
      const exited = new Promise<NodeJS.Signals | null>((r) => run.once('exit', (_code, sig) => r(sig)));
      run.kill('SIGINT');
      assert.equal(await exited, 'SIGINT');
    } finally {
      run.kill('SIGKILL');
    }
  });

  it('Ctrl-C on `npm run train -- 05` (npm and the script, as a terminal signals them) writes the step it stopped at and resumes there', async () => {
    const out = path.join(dir, 'ctrl-c-lesson05');
    const args = ['run', 'train', '--', '05', '--steps', '100000', '--batch', '4', '--subset', '256'];
    args.push('--every', '100000', '--out', out);
    // npm and the script in a process group of their own, as a terminal runs them; npm relays the SIGINT too.
    const launch = () => spawn('npm', args, { cwd: ROOT, detached: true });
    const run = launch();
    let err = '';
    run.stderr!.on('data', (d) => (err += String(d)));
    try {
      await waitFor(run, 'parameters');
      await new Promise((r) => setTimeout(r, 8000)); // some steps, far from a periodic checkpoint
      const exited = new Promise<string>((r) => run.once('exit', (code, sig) => r(String(code ?? sig))));
      process.kill(-run.pid!, 'SIGINT'); // what a terminal's Ctrl-C does
      // npm itself ends by the signal; the script exits 130 after writing its checkpoint.
      assert.equal(await exited, 'SIGINT', err);
      const m =
        /Training interrupted at step (\d+) of 100000; checkpoint written to (\S+)\. Run the same command again/.exec(
          err,
        );
      assert.ok(m, err);
      const step = Number(m![1]);
      assert.ok(step >= 1, err);
      assert.equal(path.basename(m![2]), `step-${String(step).padStart(8, '0')}.safetensors`);
      assert.ok(fs.existsSync(m![2]));
      const again = launch();
      try {
        await waitFor(again, `at step ${step}`);
      } finally {
        process.kill(-again.pid!, 'SIGKILL');
      }
    } finally {
      try {
        process.kill(-run.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  it('within one process: a second trainer on a held folder is refused; the lock goes when train() ends', async () => {
    const out = path.join(dir, 'inproc');
    const held = acquireRunLock(out, 'test');
    const w = tf.variable(tf.tensor1d([1, 2]), true);
    const tr = new LossTrainer<number>(new Map([['w', w]]), () => tf.sum(tf.square(w)) as tf.Scalar, {
      totalSteps: 2,
      learningRate: 0.01,
      checkpointDir: out,
      progress: false,
    });
    await assert.rejects(
      tr.train((s) => s),
      /is in use by another training: process \d+/,
    );
    held.release();
    await tr.train((s) => s);
    assert.equal(fs.existsSync(path.join(out, LOCK_NAME)), false);
    // A lock file naming nobody is reported too, never taken over.
    fs.writeFileSync(path.join(out, LOCK_NAME), 'garbage');
    assert.throws(() => acquireRunLock(out, 'test'), /names no process; .* delete the lock \(rm /);
    fs.rmSync(path.join(out, LOCK_NAME));
    tr.dispose();
    w.dispose();
  });

  it('a lock another run is taking over (its .takeover file exists) is not taken twice', () => {
    const out = path.join(dir, 'takeover');
    fs.mkdirSync(out, { recursive: true });
    const dead = spawnSync('true').pid!; // exited: its PID names no running process of that start time
    const lock = { pid: dead, host: os.hostname(), started: new Date().toISOString(), procStart: '1', who: 'test' };
    fs.writeFileSync(path.join(out, LOCK_NAME), JSON.stringify(lock));
    fs.writeFileSync(path.join(out, `${LOCK_NAME}.takeover`), JSON.stringify({ ...lock, pid: process.pid }));
    assert.throws(() => acquireRunLock(out, 'test'), /holds a stale lock: .*no longer running/);
    fs.rmSync(path.join(out, `${LOCK_NAME}.takeover`));
    const taken = acquireRunLock(out, 'test'); // the guard gone: this run takes it over
    assert.equal(JSON.parse(fs.readFileSync(taken.file, 'utf8')).pid, process.pid);
    taken.release();
    assert.deepEqual(fs.readdirSync(out), []);
  });

  it('a write killed with kill -9 leaves a temporary file; the next start removes it, a live one stays', async () => {
    const out = path.join(dir, 'killed');
    fs.mkdirSync(out, { recursive: true });
    const target = path.join(out, 'step-00000007.safetensors');
    const writer = spawn(NODE_TS[0], [...NODE_TS.slice(1), path.join(FIXTURES, 'atomic_writer.ts'), target], {
      cwd: ROOT,
    });
    const temps = () => fs.readdirSync(out).filter((f) => f.startsWith('.step-00000007.safetensors.tmp-'));
    try {
      await until(() => temps().length === 1 && fs.statSync(path.join(out, temps()[0])).size === 1 << 16, 60_000);
    } finally {
      writer.kill('SIGKILL');
    }
    await new Promise((r) => writer.once('exit', r));
    const orphan = temps()[0];
    assert.match(orphan, new RegExp(`\\.tmp-${writer.pid}-\\d+-\\d+$`));
    assert.equal(fs.existsSync(target), false, 'a half-written file under the real name');
    // A temporary file of a live process (ours), and one in the parent folder of a dead one.
    const live = `.model.safetensors.tmp-${process.pid}-1-2`;
    fs.writeFileSync(path.join(out, live), 'x');
    const parentOrphan = `.model.safetensors.tmp-${writer.pid}-3-4`;
    fs.writeFileSync(path.join(dir, parentOrphan), 'x');
    // Not ours by name: left alone.
    fs.writeFileSync(path.join(out, '.notes.tmp'), 'x');
    const lock = acquireRunLock(out, 'test');
    lock.release();
    assert.deepEqual(temps(), []);
    assert.ok(fs.existsSync(path.join(out, live)), "removed a live process's temporary file");
    assert.equal(fs.existsSync(path.join(dir, parentOrphan)), false);
    assert.ok(fs.existsSync(path.join(out, '.notes.tmp')));
    assert.deepEqual(removeOrphanTemps(out), []);
  });

  it('resuming a run already at or past its step count says so', async () => {
    const out = path.join(dir, 'past');
    const run = async (steps: number) => {
      const w = tf.variable(tf.tensor1d([1, 2]), true);
      const tr = new LossTrainer<number>(new Map([['w', w]]), () => tf.sum(tf.square(w)) as tf.Scalar, {
        totalSteps: steps,
        learningRate: 0.01,
        checkpointDir: out,
        progress: false,
      });
      const warnings: string[] = [];
      const warn = console.warn;
      console.warn = (...a: unknown[]) => void warnings.push(a.join(' '));
      try {
        await tr.resume();
        await tr.train((s) => s);
      } finally {
        console.warn = warn;
        tr.dispose();
        w.dispose();
      }
      return warnings.filter((m) => /nothing left to train/.test(m));
    };
    assert.deepEqual(await run(6), []);
    const at = await run(6);
    assert.equal(at.length, 1);
    assert.match(at[0], /is at step 6, already at totalSteps 6 \(--steps\): nothing left to train/);
    const past = await run(4);
    assert.match(past[0], /is at step 6, already past totalSteps 4 \(--steps\)/);
  });
});
