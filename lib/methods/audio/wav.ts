// WAV files (RIFF, 16-bit PCM, mono): how a clip leaves the course, as a file or as the audio/wav
// display bundle a notebook plays. Samples are clipped to [-1, 1] and scaled to 16-bit integers.
import { checkBuffer } from './clip';

export function encodeWav(x: ArrayLike<number>, sampleRate: number): Uint8Array {
  checkBuffer(x, 'encodeWav');
  if (!Number.isInteger(sampleRate) || sampleRate < 1)
    throw new Error(`encodeWav: sampleRate must be a positive integer, got ${sampleRate}`);
  const n = x.length;
  const buf = new ArrayBuffer(44 + 2 * n);
  const v = new DataView(buf);
  const str = (o: number, s: string) => {
    for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i));
  };
  str(0, 'RIFF');
  v.setUint32(4, 36 + 2 * n, true);
  str(8, 'WAVE');
  str(12, 'fmt ');
  v.setUint32(16, 16, true); // fmt chunk size
  v.setUint16(20, 1, true); // PCM
  v.setUint16(22, 1, true); // mono
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, 2 * sampleRate, true); // bytes per second
  v.setUint16(32, 2, true); // bytes per frame
  v.setUint16(34, 16, true); // bits per sample
  str(36, 'data');
  v.setUint32(40, 2 * n, true);
  for (let i = 0; i < n; i++) v.setInt16(44 + 2 * i, Math.round(32767 * Math.max(-1, Math.min(1, x[i]))), true);
  return new Uint8Array(buf);
}

/** Reads a file written by encodeWav (16-bit PCM mono): samples in [-1, 1] and the sample rate. */
export function decodeWav(bytes: Uint8Array): { samples: Float64Array; sampleRate: number } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (o: number) => String.fromCharCode(...bytes.subarray(o, o + 4));
  if (bytes.length < 44 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE' || tag(36) !== 'data')
    throw new Error('decodeWav: not a canonical 44-byte-header WAV file');
  if (v.getUint16(20, true) !== 1 || v.getUint16(22, true) !== 1 || v.getUint16(34, true) !== 16)
    throw new Error('decodeWav: only 16-bit PCM mono is supported');
  const n = Math.floor(Math.min(v.getUint32(40, true), bytes.length - 44) / 2);
  const samples = new Float64Array(n);
  for (let i = 0; i < n; i++) samples[i] = v.getInt16(44 + 2 * i, true) / 32767;
  return { samples, sampleRate: v.getUint32(24, true) };
}
