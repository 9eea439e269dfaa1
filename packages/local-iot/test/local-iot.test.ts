import { join } from 'node:path';
import { DEFAULT_CONCURRENCY_LIMIT } from '../src/lambda/lambda-runner';
import { demoStackNames, FUNCTIONS_DIR, writeDemoAssembly } from './fixtures/assembly';
import { useLocalIot } from './support/local-iot-harness';

const STACK = 'ComposedStack';
const { authorizerFunction } = demoStackNames(STACK);
const assembly = (dir: string): string =>
  writeDemoAssembly(dir, STACK, { bundle: join(FUNCTIONS_DIR, 'behaviours') });

describe('startLocalIot passes the Lambda settings to the runtime', () => {
  describe('with a concurrency limit (the CLI --lambda-concurrency)', () => {
    const served = useLocalIot({ assembly, serve: { concurrencyLimit: 3, isolation: 'thread' } });

    it('limits each function without reserved concurrency to it, in the isolation asked for', () => {
      expect(served.runtime.runner.concurrencyLimitOf(authorizerFunction)).toBe(3);
      expect(served.runtime.runner.isolation).toBe('thread');
    });
  });

  describe('by default', () => {
    const served = useLocalIot({ assembly });

    it('uses the documented default limit and process isolation', () => {
      expect(served.runtime.runner.concurrencyLimitOf(authorizerFunction)).toBe(DEFAULT_CONCURRENCY_LIMIT);
      expect(served.runtime.runner.isolation).toBe('process');
    });
  });
});
