/**
 * The end-to-end suites that exercise the gateway rather than the project's authorizer serve a fixture stack
 * whose authorizer is the `behaviours` fixture function: with the user name `policies-from-request`, it allows
 * the connect and returns, as its policy documents, the JSON array the password holds. So a suite states the
 * policy each device has in the test itself.
 */
import { join } from 'node:path';
import { buildCustomAuthUsername } from '@iot-custom-auth/protocol';
import {
  demoStackNames,
  FUNCTIONS_DIR,
  writeDemoAssembly,
  type DemoAssemblyOptions,
} from '../fixtures/assembly';
import { useLocalIot, type LocalIotHarnessOptions } from './local-iot-harness';

/** A policy statement allowing every publish, subscription and delivery. */
export const ALLOW_PUBSUB_STATEMENT = {
  Effect: 'Allow',
  Action: ['iot:Publish', 'iot:Subscribe', 'iot:Receive'],
  Resource: '*',
} as const;

/**
 * Serves the fixture stack `stackName` (its unsigned authorizer on the `behaviours` function) for the test file.
 * `demo` adds to the template's knobs, e.g. `unsignedCachingForHttp`.
 */
export function useBehavioursStack(
  stackName: string,
  options: Omit<LocalIotHarnessOptions, 'assembly' | 'context'> & {
    readonly demo?: Omit<DemoAssemblyOptions, 'bundle'>;
  } = {},
) {
  const { demo, ...harness } = options;
  const names = demoStackNames(stackName);
  const served = useLocalIot({
    ...harness,
    assembly: (dir) =>
      writeDemoAssembly(dir, stackName, { ...demo, bundle: join(FUNCTIONS_DIR, 'behaviours') }),
  });
  /** MQTT credentials of a device whose authorizer returns `documents` as its policies. */
  const withPolicies = (documents: readonly object[]) => ({
    username: buildCustomAuthUsername({
      user: 'policies-from-request',
      authorizerName: names.unsignedAuthorizer,
    }),
    password: Buffer.from(JSON.stringify(documents)),
  });
  /** MQTT credentials of a device whose policy is one document of `statements`. */
  const allowing = (statements: readonly object[]) =>
    withPolicies([{ Version: '2012-10-17', Statement: statements }]);
  return { served, names, withPolicies, allowing };
}
