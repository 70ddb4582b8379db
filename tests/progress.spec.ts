// The progress bar (lib/core/progress.ts) against a fake clock and a recording stream: the text it writes is
// compared with counts, rates and ETAs computed here from the clock's own times.
import { strict as assert } from 'assert';
import { progress, ProgressBar, formatDuration, formatRate, formatValue } from '../lib/core/progress';

// A fake clock and a stream that records what the bar writes.
function harness(isTTY: boolean) {
  const clock = { t: 1_000_000 };
  const writes: string[] = [];
  const stream = { isTTY, write: (s: string) => writes.push(s) };
  return { clock, writes, stream, now: () => clock.t };
}

describe('progress', () => {
  it('formats durations, rates and values', () => {
    assert.equal(formatDuration(0), '00:00');
    assert.equal(formatDuration(75), '01:15');
    assert.equal(formatDuration(3725), '1:02:05');
    assert.equal(formatDuration(NaN), '?');
    assert.equal(formatRate(5), '5.00 it/s');
    assert.equal(formatRate(36.25), '36.3 it/s');
    assert.equal(formatRate(1234.4), '1234 it/s');
    assert.equal(formatRate(0.25), '4.00 s/it');
    assert.equal(formatRate(0), '? it/s');
    assert.equal(formatValue(0.0123456), '0.01235');
    assert.equal(formatValue(0.00012), '1.200e-4');
    assert.equal(formatValue(42), '42');
    assert.equal(formatValue('ok'), 'ok');
  });

  it('shows count, percent, elapsed, ETA, rate and values computed from the clock', () => {
    const h = harness(false);
    const bar = new ProgressBar(undefined, { total: 200, label: 'train', now: h.now, stream: h.stream, width: 10 });
    h.clock.t += 10_000; // 10 s for 50 steps -> 5 it/s, 150 left -> 30 s
    bar.update(50);
    bar.set({ loss: 0.5 });
    const done = 50 / 200,
      rate = 50 / 10,
      eta = (200 - 50) / rate;
    const expected =
      `train ${`${Math.floor(done * 100)}%`.padStart(4)}|${'█'.repeat(Math.round(done * 10))}${' '.repeat(10 - Math.round(done * 10))}| 50/200 ` +
      `[${formatDuration(10)}<${formatDuration(eta)}, ${formatRate(rate)}] loss=0.5`;
    assert.equal(bar.line(), expected);
    assert.match(bar.line(), /25%.*\[00:10<00:30, 5\.00 it\/s\]/);
  });

  it('without a total shows the count and rate only', () => {
    const h = harness(false);
    const bar = new ProgressBar(undefined, { now: h.now, stream: h.stream });
    h.clock.t += 4000;
    bar.update(8);
    assert.equal(bar.line(), '8 it [00:04, 2.00 it/s]');
  });

  it('in a log (non-TTY) prints about one line per 10%, not one per step', () => {
    const h = harness(false);
    const n = 1000;
    const seen: number[] = [];
    for (const i of progress(n, { now: h.now, stream: h.stream })) {
      seen.push(i);
      h.clock.t += 10; // 10 ms per step, 10 s in all: below the 30 s time trigger
    }
    assert.deepEqual(
      seen,
      Array.from({ length: n }, (_, i) => i),
    );
    assert.equal(h.writes.length, 10, h.writes.join(''));
    assert.ok(h.writes.every((w) => w.endsWith('\n') && !w.includes('\r')));
    assert.match(h.writes[0], /^ 10%.* 100\/1000 /);
    assert.match(h.writes[9], /^100%.* 1000\/1000 \[00:10<00:00, 100 it\/s\]/);
  });

  it('in a log also prints when a slow loop passes the time interval', () => {
    const h = harness(false);
    const bar = new ProgressBar(undefined, { total: 100, now: h.now, stream: h.stream, logEverySeconds: 30 });
    for (let i = 0; i < 5; i++) {
      h.clock.t += 20_000; // 20 s per step: 5% per step, never a 10% boundary except at 10%
      bar.update(1);
    }
    // 5 steps = 5%: no 10% boundary, so lines come from the 30 s interval only (at 40 s and 80 s).
    assert.equal(h.writes.length, 2, h.writes.join(''));
    bar.finish();
    assert.equal(h.writes.length, 3);
    assert.match(h.writes[2], /5%.* 5\/100 /);
  });

  it('on a terminal redraws in place with \\r, throttled, and ends with a newline', () => {
    const h = harness(true);
    const bar = progress(['a', 'b', 'c', 'd'], { now: h.now, stream: h.stream, minIntervalMs: 100 });
    const items: string[] = [];
    for (const x of bar) {
      items.push(x);
      h.clock.t += 60; // redraws at most every 100 ms -> not on every step
      bar.set({ item: x });
    }
    assert.deepEqual(items, ['a', 'b', 'c', 'd']);
    assert.ok(h.writes.every((w) => w.startsWith('\r')));
    assert.ok(h.writes.length < 8, `${h.writes.length} redraws`);
    const last = h.writes[h.writes.length - 1];
    assert.ok(last.endsWith('\n'));
    assert.match(last, /100%.* 4\/4 .* item=d/);
  });

  it('finishes on break and reports where it stopped', () => {
    const h = harness(false);
    for (const i of progress(100, { now: h.now, stream: h.stream })) {
      h.clock.t += 1;
      if (i === 36) break;
    }
    assert.match(h.writes[h.writes.length - 1], / 36%.* 36\/100 /);
  });

  it('rejects bad input clearly', () => {
    assert.throws(() => progress(-1), /integer >= 0/);
    assert.throws(() => progress(2.5), /integer >= 0/);
    assert.throws(() => progress({} as never), /number or an iterable/);
    assert.throws(() => new ProgressBar(undefined, { total: -3 }), /total must be/);
    assert.throws(() => [...new ProgressBar()], /nothing to iterate/);
    assert.throws(() => progress(3, { mode: 'fancy' as never }), /unknown mode/);
  });
});
