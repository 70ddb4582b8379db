// Playing a clip in the notebook: one display bundle with the WAV bytes as audio/wav, an HTML <audio>
// player holding the same bytes (what JupyterLab and exported HTML render), and a text line.
import { inKernel, MimeBundle, sendDisplay } from '../../core/kernel_display';
import { encodeWav } from './wav';

export function audioBundle(x: ArrayLike<number>, sampleRate: number, title = 'clip'): MimeBundle {
  const wav = encodeWav(x, sampleRate);
  const b64 = Buffer.from(wav).toString('base64');
  const esc = title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return {
    'audio/wav': wav,
    'text/html': `<div><span style="font-family:monospace">${esc}</span><br><audio controls src="data:audio/wav;base64,${b64}"></audio></div>`,
    'text/plain': `${title}: ${x.length} samples at ${sampleRate} Hz (${(x.length / sampleRate).toFixed(3)} s, 16-bit WAV)`,
  };
}

/** Shows a player for the clip in the notebook; outside a notebook prints the text line. */
export function playAudio(x: ArrayLike<number>, sampleRate: number, title = 'clip'): void {
  const b = audioBundle(x, sampleRate, title);
  if (inKernel()) sendDisplay(b);
  else console.log(b['text/plain']);
}
