// `npm run train -- <lesson>` for the lessons whose models have their own training script: one
// command for every lesson, each script keeping its own flags. scripts/train.ts trains 05, 06 and 07
// itself and hands the others here.
import { spawn } from 'child_process';
import * as path from 'path';

interface Route {
  script: string;
  /** The script's task argument(s) this lesson trains; the first one given after the lesson must be one. */
  tasks?: string[];
  /** The script takes the lesson number as its own first argument. */
  passLesson?: boolean;
}

export const TRAIN_ROUTES: Record<string, Route> = {
  '01': { script: 'train-toy.ts' },
  '08': { script: 'train-sr-inpaint.ts', tasks: ['sr3', 'sr-regression'] },
  '09': { script: 'train-sr-inpaint.ts', tasks: ['inpaint'] },
  '10': { script: 'train-text.ts', passLesson: true },
  '11': { script: 'train-imagen.ts', tasks: ['mlm', 'base', 'sr'] },
  '12': { script: 'train-dalle2.ts', tasks: ['clip', 'prior', 'decoder'] },
  '13': { script: 'train-latent.ts', tasks: ['ae', 'ldm-text', 'ldm-layout'] },
  '14': { script: 'train-latent.ts', tasks: ['gligen'] },
  '16': { script: 'train-audio.ts' },
  '17': { script: 'train-video.ts' },
};

/**
 * The command line of the script that trains `lesson`, or an error message (a missing or foreign task).
 * `rest` is everything after the lesson on the command line.
 */
export function routeArgs(lesson: string, rest: string[]): { script: string; args: string[] } | string {
  const r = TRAIN_ROUTES[lesson];
  if (!r) return `no training recipe for lesson '${lesson}'`;
  if (r.tasks && !r.tasks.includes(rest[0] ?? ''))
    return `lesson ${lesson} trains ${r.tasks.map((t) => `'${t}'`).join(' or ')}: npm run train -- ${lesson} <${r.tasks.join('|')}> [flags] (see scripts/${r.script})`;
  return { script: r.script, args: r.passLesson ? [lesson, ...rest] : rest };
}

/** Runs the lesson's own script with the same terminal; resolves to its exit status. */
export function runRoute(script: string, args: string[]): Promise<number> {
  const root = path.resolve(__dirname, '..');
  // node with tsx's loader, not the tsx launcher: the launcher SIGKILLs a child that does not answer a
  // SIGINT within 30 ms, and a training answers only after its step in progress (cancel.ts).
  const child = spawn(
    process.execPath,
    ['--require', require.resolve('tsx/cjs'), path.join(root, 'scripts', script), ...args],
    {
      stdio: 'inherit',
    },
  );
  // Ctrl-C reaches the child through the terminal; waiting for it lets it save its training state first.
  const ignore = (): void => undefined;
  process.on('SIGINT', ignore);
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      resolve(code ?? (signal ? 1 : 0));
    }),
  );
}
