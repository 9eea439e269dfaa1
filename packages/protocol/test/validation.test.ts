import {
  authorizerResponseProblems,
  buildDevicePolicies,
  clientIdProblem,
  parseLocalConnectionInfo,
} from '../src';

describe('clientIdProblem', () => {
  it.each([
    ['test-1', undefined],
    ['test-a.b:c_d-E', undefined],
    ['', 'client id is empty'],
    ['prod-1', "client id does not start with 'test-'"],
    ['test-' + 'a'.repeat(124), 'client id is longer than 128 bytes'],
    ['test-+', 'client id contains "+"; only A-Z a-z 0-9 _ . : - are allowed'],
    ['test-#', 'client id contains "#"; only A-Z a-z 0-9 _ . : - are allowed'],
    ['test-a/b', 'client id contains "/"; only A-Z a-z 0-9 _ . : - are allowed'],
    ['test-*', 'client id contains "*"; only A-Z a-z 0-9 _ . : - are allowed'],
    ['test-?', 'client id contains "?"; only A-Z a-z 0-9 _ . : - are allowed'],
    ['test-${iot:ClientId}', 'client id contains "$"; only A-Z a-z 0-9 _ . : - are allowed'],
    ['test-\n', 'client id contains "\\n"; only A-Z a-z 0-9 _ . : - are allowed'],
    ['test-é', 'client id contains "é"; only A-Z a-z 0-9 _ . : - are allowed'],
  ])('%j -> %j', (clientId, expected) => {
    expect(clientIdProblem(clientId, 'test-')).toBe(expected);
  });
});

describe('authorizerResponseProblems', () => {
  const valid = {
    isAuthenticated: true,
    principalId: 'abc123',
    disconnectAfterInSeconds: 86400,
    refreshAfterInSeconds: 300,
    policyDocuments: buildDevicePolicies({ region: 'us-east-1', account: '123456789012' }),
  };

  it('accepts a valid allow, a deny without TTLs and documents given as JSON strings', () => {
    expect(authorizerResponseProblems(valid)).toEqual([]);
    expect(authorizerResponseProblems({ isAuthenticated: false, principalId: 'x' })).toEqual([]);
    expect(
      authorizerResponseProblems({
        ...valid,
        policyDocuments: valid.policyDocuments.map((d) => JSON.stringify(d)),
      }),
    ).toEqual([]);
  });

  it.each([
    [null, ['response is not a JSON object']],
    [[], ['response is not a JSON object']],
    [{ ...valid, isAuthenticated: 'true' }, ['isAuthenticated is not a boolean']],
    [{ ...valid, principalId: 7 }, ['principalId is not a string']],
    [{ ...valid, principalId: 'a-b' }, ["principalId 'a-b' does not match ^[a-zA-Z0-9]{1,128}$"]],
    [{ ...valid, principalId: '' }, ["principalId '' does not match ^[a-zA-Z0-9]{1,128}$"]],
    [
      { ...valid, refreshAfterInSeconds: 299 },
      ['refreshAfterInSeconds must be an integer between 300 and 86400, but 299 was returned'],
    ],
    [
      { ...valid, disconnectAfterInSeconds: 86401.5 },
      ['disconnectAfterInSeconds must be an integer between 300 and 86400, but 86401.5 was returned'],
    ],
    [
      { ...valid, disconnectAfterInSeconds: undefined },
      ['disconnectAfterInSeconds must be an integer between 300 and 86400, but undefined was returned'],
    ],
    [{ ...valid, policyDocuments: {} }, ['policyDocuments is not an array']],
    [
      { ...valid, policyDocuments: Array(11).fill(valid.policyDocuments[0]) },
      ['policyDocuments has 11 documents; at most 10 are allowed'],
    ],
    [{ ...valid, policyDocuments: [42] }, ['policyDocuments[0] is neither a JSON string nor an object']],
    [
      { ...valid, policyDocuments: ['x'.repeat(2049)] },
      ['policyDocuments[0] has 2049 characters; at most 2048 are allowed'],
    ],
  ])('%j -> %j', (response, problems) => {
    expect(authorizerResponseProblems(response)).toEqual(problems);
  });
});

describe('parseLocalConnectionInfo', () => {
  const valid = {
    endpoint: 'localhost',
    port: 8443,
    caFile: '/repo/.local-iot/ca.pem',
    awsEndpointUrl: 'http://127.0.0.1:4566',
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };

  it('reads what local-iot writes', () => {
    expect(parseLocalConnectionInfo(JSON.stringify(valid))).toEqual(valid);
  });

  it.each([
    ['{', 'is not JSON'],
    ['7', 'is not a JSON object'],
    [JSON.stringify({ ...valid, endpoint: '' }), 'has no string "endpoint"'],
    [JSON.stringify({ ...valid, caFile: 1 }), 'has no string "caFile"'],
    [JSON.stringify({ ...valid, port: 0 }), 'has no valid "port" (1..65535)'],
    [JSON.stringify({ ...valid, port: '8443' }), 'has no valid "port" (1..65535)'],
    [
      JSON.stringify({ ...valid, credentials: {} }),
      'has no "credentials" with accessKeyId and secretAccessKey',
    ],
  ])('explains %s', (text, problem) => {
    expect(parseLocalConnectionInfo(text)).toBe(problem);
  });
});
