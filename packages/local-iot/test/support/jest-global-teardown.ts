import { removeRunCache } from './run-cache';

/** Jest `globalTeardown` (see the repository's jest.config.js): removes what the run's workers shared. */
export default function globalTeardown(): void {
  removeRunCache();
}
