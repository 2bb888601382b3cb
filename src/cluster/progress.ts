/**
 * How the library reports long steps. The CLI renders them with ora; tests
 * and --json runs pass `silentProgress`.
 */
export interface Step {
  update(text: string): void;
  succeed(text?: string): void;
  fail(text?: string): void;
}

export interface Progress {
  step(text: string): Step;
  info(text: string): void;
}

export const silentProgress: Progress = {
  step: () => ({ update: () => undefined, succeed: () => undefined, fail: () => undefined }),
  info: () => undefined,
};

/** Runs `fn` as one step: succeeded with its text, or failed and rethrown. */
export async function withStep<T>(progress: Progress, text: string, fn: (step: Step) => Promise<T>, done?: (v: T) => string): Promise<T> {
  const step = progress.step(text);
  try {
    const v = await fn(step);
    step.succeed(done ? done(v) : undefined);
    return v;
  } catch (err) {
    step.fail();
    throw err;
  }
}
