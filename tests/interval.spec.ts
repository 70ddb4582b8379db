// The Wilson interval behind lessons 12-14's spreads, against values computed by hand from its formula
// (and the textbook case 0 of 10), and its refusal of nonsense input.
import { strict as assert } from 'assert';
import { formatShare, wilsonInterval } from '../lib/eval/metrics/interval';

describe('Wilson score interval', () => {
  it('matches the formula: 9 of 10, 0 of 10, 50 of 100', () => {
    const close = (a: number[], b: number[]) =>
      a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 5e-4, `${a} vs ${b}`));
    close(wilsonInterval(0.9, 10), [0.5958, 0.9821]);
    close(wilsonInterval(0, 10), [0, 0.2775]);
    close(wilsonInterval(0.5, 100), [0.4038, 0.5962]);
  });

  it('narrows with n and contains p', () => {
    const [a, b] = wilsonInterval(0.7, 20);
    const [c, d] = wilsonInterval(0.7, 2000);
    assert.ok(a < c && d < b && c < 0.7 && 0.7 < d);
    assert.equal(formatShare(0.5, 100), '50 % [40, 60]');
  });

  it('refuses a share outside [0, 1] or n < 1', () => {
    assert.throws(() => wilsonInterval(1.2, 10), /share in \[0, 1\]/);
    assert.throws(() => wilsonInterval(0.5, 0), /positive integer/);
  });
});
