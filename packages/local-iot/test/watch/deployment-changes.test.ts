import type { LocalDeployment } from '../../src/deployment/local-deployment';
import { describeChanges, describeSwap, diffDeployments } from '../../src/watch/deployment-changes';

// Only the fields the diff reads; the rest of a LocalDeployment plays no part in it.
function deployment(parts: {
  functions?: object[];
  authorizers?: object[];
  policies?: object[];
  outputs?: Record<string, string>;
}): LocalDeployment {
  return {
    functions: [],
    authorizers: [],
    policies: [],
    secrets: [],
    outputs: {},
    ...parts,
  } as unknown as LocalDeployment;
}

const fn = {
  name: 'Fn',
  handler: 'index.handler',
  runtime: 'nodejs22.x',
  timeoutSeconds: 5,
  memorySizeMb: 256,
  logFormat: 'JSON',
  environment: { A: '1' },
};
const authorizer = {
  name: 'Auth',
  status: 'ACTIVE',
  signingDisabled: true,
  enableCachingForHttp: false,
  functionName: 'Fn',
  tokenSigningPublicKeys: {},
  invokePermission: { granted: true },
};
const policy = { name: 'Connect', document: { Statement: [{ Resource: 'client/test-*' }] } };

it('names each changed resource and what changed in it, in one line', () => {
  const before = {
    deployment: deployment({
      functions: [fn],
      authorizers: [authorizer],
      policies: [policy],
      outputs: { Prefix: 'test-' },
    }),
    code: new Map([['Fn', 'old']]),
  };
  const after = {
    deployment: deployment({
      functions: [{ ...fn, timeoutSeconds: 10, environment: { A: '2', B: 'x' } }],
      authorizers: [
        { ...authorizer, status: 'INACTIVE' },
        { ...authorizer, name: 'Signed' },
      ],
      policies: [{ ...policy, document: { Statement: [{ Resource: 'client/dev-*' }] } }],
      outputs: { Prefix: 'dev-' },
    }),
    code: new Map([['Fn', 'new']]),
  };
  const changes = diffDeployments(before, after);
  expect(changes).toEqual({
    functions: ['Fn (code, timeoutSeconds 10, environment A B)'],
    authorizers: ['Auth (status INACTIVE)', 'Signed (added)'],
    policies: ['Connect (document)'],
    secrets: [],
    outputs: ['Prefix'],
  });
  expect(describeChanges(changes)).toBe(
    'functions: Fn (code, timeoutSeconds 10, environment A B); authorizers: Auth (status INACTIVE), Signed (added); policies: Connect (document); outputs: Prefix',
  );
});

it('says nothing changed for the same deployment, and names what went away', () => {
  const same = {
    deployment: deployment({ functions: [fn], policies: [policy] }),
    code: new Map([['Fn', 'x']]),
  };
  expect(describeChanges(diffDeployments(same, same))).toBe('nothing changed');
  const without = { deployment: deployment({ functions: [fn] }), code: new Map([['Fn', 'x']]) };
  expect(describeChanges(diffDeployments(same, without))).toBe('policies: Connect (removed)');
});

describe('describeSwap', () => {
  const changes = diffDeployments(
    { deployment: deployment({}), code: new Map() },
    { deployment: deployment({ outputs: { Endpoint: 'localhost' } }), code: new Map() },
  );

  it('says what changed and each notice', () => {
    expect(describeSwap({ changes, notices: ['a CSR certificate'] }, '/s/connection.json')).toEqual([
      'deployment swapped (outputs: Endpoint); connected clients keep their session until their policy refresh',
      'not served: a CSR certificate',
    ]);
  });

  it('says where the X.509 listener a swap started listens, and which file has it', () => {
    const x509Started = {
      endpoint: 'localhost',
      port: 40123,
      domainConfigurationName: 'Stack-X509Domain-1a2b',
    };
    expect(describeSwap({ changes, notices: [], x509Started }, '/s/connection.json')).toEqual([
      expect.stringMatching(/^deployment swapped /),
      'now serving domain configuration Stack-X509Domain-1a2b (CUSTOM_AUTH_X509) on localhost:40123, client certificate required; /s/connection.json has it',
    ]);
  });
});
