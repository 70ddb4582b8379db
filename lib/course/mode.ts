// Lesson mode: how much work a notebook does. Read from LESSON_MODE so the same notebook serves
// tests (quick), learners (standard) and full reproductions (full).
export type LessonMode = 'quick' | 'standard' | 'full';
export const LESSON_MODES: readonly LessonMode[] = ['quick', 'standard', 'full'];

export function lessonMode(env: Record<string, string | undefined> = process.env): LessonMode {
  const raw = env.LESSON_MODE;
  if (raw === undefined || raw === '') return 'standard';
  const mode = raw.trim().toLowerCase();
  if ((LESSON_MODES as readonly string[]).includes(mode)) return mode as LessonMode;
  throw new Error(
    `Unknown LESSON_MODE '${raw}': use one of ${LESSON_MODES.join(', ')} ` +
      `(quick: seconds, for tests; standard: the default; full: train everything from scratch).`,
  );
}

/** Picks the value for the current mode, e.g. pick({quick: 50, standard: 2000, full: 20000}). */
export function byMode<T>(values: Record<LessonMode, T>, mode: LessonMode = lessonMode()): T {
  return values[mode];
}

/** Shown on every figure and image grid in quick mode, whose results only check that the code runs. */
export const QUICK_MODE_NOTE = 'quick mode (LESSON_MODE=quick): numbers for testing only';
