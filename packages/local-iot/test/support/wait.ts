/** How long a test waits for an expected event before failing with a description (never a fixed sleep). */
export const WAIT_MS = 5_000;

/** Rejects with `what` when `promise` has not settled within `ms` (the harness's wait limit by default). */
export async function withTimeout<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
