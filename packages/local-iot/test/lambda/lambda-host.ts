/**
 * A host process for lambda-runner.test.ts: starts a runner with one environment spinning in a busy loop and
 * one idle, prints their pids, then, by its argument:
 * - `die`: kills itself with SIGKILL, so no close or exit handler can run (the environments must end alone);
 * - `close`: closes the runner and prints `closed` (it must wait for its environments before it can exit).
 */
import { join } from 'node:path';
import { LambdaRunner } from '../../src/lambda/lambda-runner';
import { FUNCTIONS_DIR } from '../fixtures/assembly';

const name = 'fixture-orphans';
const runner = new LambdaRunner({
  functions: [
    {
      logicalId: 'Orphans',
      name,
      arn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
      codeDirectory: join(FUNCTIONS_DIR, 'behaviours'),
      handler: 'index.handler',
      runtime: 'nodejs20.x',
      timeoutSeconds: 300,
      memorySizeMb: 128,
      environment: {},
      logFormat: 'Text',
      logGroupName: `/aws/lambda/${name}`,
    },
  ],
  region: 'us-east-1',
  awsEndpointUrl: 'http://127.0.0.1:9',
  log: () => undefined,
});

const mode = process.argv[2];
void runner.invoke(name, { behaviour: 'spin' });
void runner.invoke(name, { behaviour: 'allow' }).then(() => {
  const pids = runner.environments(name).map((environment) => environment.pid);
  process.stdout.write(`${pids.join(' ')}\n`, () => {
    if (mode === 'die') process.kill(process.pid, 'SIGKILL');
    else void runner.close().then(() => process.stdout.write('closed\n'));
  });
});
