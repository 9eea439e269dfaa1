import fc from 'fast-check';
import { DEFAULT_STACK_NAME } from '@iot-custom-auth/protocol';
import { InfraError, parseAppSettings } from '../src';
import { expectInfraError } from './helpers';

describe('parseAppSettings', () => {
  it('defaults the stack name and leaves everything else to the constructs', () => {
    expect(parseAppSettings({})).toEqual({
      stackName: DEFAULT_STACK_NAME,
      clientIdPrefix: undefined,
      refreshAfterSeconds: undefined,
      disconnectAfterSeconds: undefined,
      tokenKeyName: undefined,
      tokenSigningPublicKeyFile: undefined,
    });
  });

  it('takes numbers from cdk.json and digit strings from -c key=value', () => {
    expect(
      parseAppSettings({
        stackName: 'Lab',
        clientIdPrefix: 'dev-',
        refreshAfterSeconds: '600',
        disconnectAfterSeconds: 3600,
        tokenKeyName: 'tk',
        tokenSigningPublicKeyFile: 'keys/public.pem',
      }),
    ).toEqual({
      stackName: 'Lab',
      clientIdPrefix: 'dev-',
      refreshAfterSeconds: 600,
      disconnectAfterSeconds: 3600,
      tokenKeyName: 'tk',
      tokenSigningPublicKeyFile: 'keys/public.pem',
    });
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      'a word for a number',
      { refreshAfterSeconds: 'ten' },
      'context `refreshAfterSeconds` must be a whole number of seconds (-c refreshAfterSeconds=600), but "ten" was provided',
    ],
    [
      'a fraction',
      { disconnectAfterSeconds: '300.5' },
      'context `disconnectAfterSeconds` must be a whole number of seconds (-c disconnectAfterSeconds=600), but "300.5" was provided',
    ],
    [
      'a boolean for a number',
      { refreshAfterSeconds: true },
      'context `refreshAfterSeconds` must be a whole number of seconds (-c refreshAfterSeconds=600), but true was provided',
    ],
    [
      'an empty stack name',
      { stackName: '' },
      'context `stackName` must be a non-empty string (-c stackName=...), but "" was provided',
    ],
    [
      'an object for a string',
      { clientIdPrefix: { a: 1 } },
      'context `clientIdPrefix` must be a non-empty string (-c clientIdPrefix=...), but a value of type object was provided',
    ],
    [
      'an array for a file',
      { tokenSigningPublicKeyFile: ['a'] },
      'context `tokenSigningPublicKeyFile` must be a non-empty string (-c tokenSigningPublicKeyFile=...), but an array was provided',
    ],
  ])('rejects %s', (_case, raw, message) => {
    expectInfraError(() => parseAppSettings(raw), message);
  });

  it('never throws anything but InfraError, whatever the context holds', () => {
    const keys = [
      'stackName',
      'clientIdPrefix',
      'refreshAfterSeconds',
      'disconnectAfterSeconds',
      'tokenKeyName',
      'tokenSigningPublicKeyFile',
    ];
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...keys), fc.jsonValue()), (raw) => {
        try {
          parseAppSettings(raw);
        } catch (error) {
          expect(error).toBeInstanceOf(InfraError);
          expect((error as Error).message).toMatch(/^context `\w+` must be .*, but .+ was provided$/s);
        }
      }),
    );
  });
});
