import { createRunCache } from './run-cache';

/** Jest `globalSetup` (see the repository's jest.config.js): the directory the run's workers share. */
export default function globalSetup(): void {
  createRunCache();
}
