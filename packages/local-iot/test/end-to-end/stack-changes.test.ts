import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { demoDeviceCertificateFiles, STACK_OUTPUTS } from '@iot-custom-auth/protocol';
import { useLocalIot } from '../support/local-iot-harness';
import { testInvokeAuthorizer } from '../support/served-stack';
import { REPO_ROOT } from '../support/synthesized-stack';

// The stack, not local-iot, decides: re-synthesized with another client id prefix and other TTLs, the same
// local-iot code serves different behaviour (no edit to local-iot).

const served = useLocalIot({
  context: { clientIdPrefix: 'fleet-', refreshAfterSeconds: '900', disconnectAfterSeconds: '3600' },
});

it('follows the synthesized client id prefix: fleet-* connects, test-* is refused by the policy', async () => {
  expect(served.outputs[STACK_OUTPUTS.clientIdPrefix]).toBe('fleet-');
  expect(served.runtime.deployment.policies.map((p) => JSON.stringify(p))).toEqual([
    expect.stringContaining('client/fleet-*') as string,
  ]);
  expect(await served.connackCode('fleet-1')).toBe(0);
  // A device's valid credentials with a client id outside the prefix (and not its own): refused by the policy.
  expect(
    await served.connackCode('test-1', {
      username: served.unsignedUsername('fleet-1'),
      password: served.credentialsFor('fleet-1').password,
    }),
  ).toBe(0x87);
});

it('returns the synthesized TTLs through TestInvokeAuthorizer', async () => {
  const response = await testInvokeAuthorizer(
    served.local.connection,
    served.output(STACK_OUTPUTS.unsignedAuthorizerName),
    { ...served.credentialsFor('fleet-2'), clientId: 'fleet-2' },
  );
  expect(response.status).toBe(200);
  expect(await response.json()).toMatchObject({
    isAuthenticated: true,
    refreshAfterInSeconds: 900,
    disconnectAfterInSeconds: 3600,
  });
});

it("registers the prefix's own demo certificate beside the default one (.keys/fleet-mtls-demo-cert.pem)", () => {
  const files = demoDeviceCertificateFiles('fleet-');
  const pem = readFileSync(path.join(REPO_ROOT, files.directory, files.certificate), 'utf8');
  const certificate = new X509Certificate(pem);
  expect(certificate.subject).toBe('CN=fleet-mtls-demo');
  expect(served.output(STACK_OUTPUTS.demoCertificateId)).toBe(
    createHash('sha256').update(certificate.raw).digest('hex'),
  );
});
