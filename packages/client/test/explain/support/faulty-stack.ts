import { join } from 'node:path';
import { STACK_OUTPUTS } from '@iot-custom-auth/protocol';
import type { CfnResource, CfnTemplate } from '../../../../local-iot/src/deployment/intrinsics';
import {
  demoTemplate,
  FUNCTIONS_DIR,
  rsaKeyPair,
  writeAssembly,
} from '../../../../local-iot/test/fixtures/assembly';
import type { AssemblySource } from '../../../../local-iot/test/support/served-stack';

/** The stack of every fault, served by local-iot for the explain and diagnose end-to-end tests. */
export const FAULTY_STACK = 'Explained';
export const INACTIVE_AUTHORIZER = `${FAULTY_STACK}-inactive`;
export const NO_PERMISSION_AUTHORIZER = `${FAULTY_STACK}-no-permission`;

/** The key pair the signed authorizer trusts. */
export const SIGNING_KEYS = rsaKeyPair();

/**
 * The demo stack on the fixture function whose behaviour the user name picks (`open`, `deny`, `hang`,
 * `ttl-too-low`, ...; timeout 1 s), with its log group as an output, plus an INACTIVE authorizer and one
 * whose function has no invoke permission for it.
 */
function faultyTemplate(): CfnTemplate {
  const template = demoTemplate({
    asset: 'authorizer',
    publicKeyPem: SIGNING_KEYS.publicKey,
    timeoutSeconds: 1,
    logFormat: 'JSON',
  });
  const resources = template.Resources as Record<string, CfnResource>;
  const authorizer = resources.UnsignedAuthorizer as CfnResource;
  const variant = (name: string, properties: Record<string, unknown>): CfnResource => ({
    ...authorizer,
    Properties: { ...authorizer.Properties, AuthorizerName: name, ...properties },
  });
  return {
    ...template,
    Resources: {
      ...resources,
      InactiveAuthorizer: variant(INACTIVE_AUTHORIZER, { Status: 'INACTIVE' }),
      NoPermissionAuthorizer: variant(NO_PERMISSION_AUTHORIZER, {}),
    },
    Outputs: {
      ...(template.Outputs as Record<string, unknown>),
      [STACK_OUTPUTS.authorizerLogGroupName]: { Value: { Ref: 'LogGroup' } },
    },
  };
}

/** The faulty stack as a cloud assembly, with the behaviours fixture as its authorizer bundle. */
export const faultyAssembly: AssemblySource = (dir) =>
  writeAssembly(join(dir, 'cdk.out'), FAULTY_STACK, faultyTemplate(), {
    authorizer: join(FUNCTIONS_DIR, 'behaviours'),
  });

/** The client flags that pick the fixture's behaviour `name` (the user name) for client id `clientId`. */
export const behaviour = (name: string, clientId = `test-${name}-1`): string[] => [
  '--client_id',
  clientId,
  '--custom_auth_username',
  name,
  '--custom_auth_password',
  'any',
];
