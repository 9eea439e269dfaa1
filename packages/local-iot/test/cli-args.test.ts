import { DEFAULT_CONCURRENCY_LIMIT } from '../src/lambda/lambda-runner';
import { parseLocalIotArgs, UsageError, USAGE } from '../src/cli-args';

describe('parseLocalIotArgs --lambda-concurrency', () => {
  it('defaults to the runner default and takes a whole number', () => {
    expect(parseLocalIotArgs([]).lambdaConcurrency).toBe(DEFAULT_CONCURRENCY_LIMIT);
    expect(parseLocalIotArgs(['--lambda-concurrency', '3']).lambdaConcurrency).toBe(3);
    expect(USAGE).toContain('--lambda-concurrency N');
  });

  it.each(['0', '1001', '2.5', 'many', ''])('refuses %j, naming the flag and what it takes', (text) => {
    expect(() => parseLocalIotArgs(['--lambda-concurrency', text])).toThrow(
      new UsageError(`--lambda-concurrency must be a whole number from 1 to 1000, but '${text}' was given`),
    );
  });
});
