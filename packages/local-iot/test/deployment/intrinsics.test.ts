import { DeploymentError } from '../../src/errors';
import { type CfnTemplate, IntrinsicResolver } from '../../src/deployment/intrinsics';

const options = { stackName: 'Demo', region: 'eu-west-1', endpointHost: 'local.iot.test' };

const template: CfnTemplate = {
  Parameters: {
    BootstrapVersion: {
      Type: 'AWS::SSM::Parameter::Value<String>',
      Default: '/cdk-bootstrap/hnb659fds/version',
    },
    Prefix: { Type: 'String', Default: 'test-' },
    Names: { Type: 'CommaDelimitedList', Default: 'a, b,c' },
    NoDefault: { Type: 'String' },
  },
  Mappings: { Settings: { Ttl: { refresh: 600 } } },
  Conditions: {
    IsEu: { 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'eu-west-1'] },
    IsUs: { 'Fn::Not': [{ Condition: 'IsEu' }] },
    Both: { 'Fn::And': [{ Condition: 'IsEu' }, { 'Fn::Equals': [{ Ref: 'Prefix' }, 'test-'] }] },
    Either: { 'Fn::Or': [{ Condition: 'IsUs' }, { Condition: 'Both' }] },
    Loop: { Condition: 'Loop' },
  },
  Resources: {
    Fn: { Type: 'AWS::Lambda::Function', Properties: { Handler: 'index.handler' } },
    NamedFn: {
      Type: 'AWS::Lambda::Function',
      Properties: { FunctionName: { 'Fn::Sub': '${AWS::StackName}-auth' } },
    },
    Unsigned: {
      Type: 'AWS::IoT::Authorizer',
      Properties: { AuthorizerName: 'my-unsigned', AuthorizerFunctionArn: { 'Fn::GetAtt': ['Fn', 'Arn'] } },
    },
    Signed: { Type: 'AWS::IoT::Authorizer', Properties: {} },
    Secret: { Type: 'AWS::SecretsManager::Secret', Properties: {} },
    NamedSecret: { Type: 'AWS::SecretsManager::Secret', Properties: { Name: 'device-credentials' } },
    Policy: { Type: 'AWS::IoT::Policy', Properties: {} },
    Role: { Type: 'AWS::IAM::Role', Properties: {} },
    Topic: { Type: 'AWS::SNS::Topic', Properties: {} },
    Endpoint: {
      Type: 'Custom::AWS',
      Properties: {
        Create: {
          'Fn::Join': [
            '',
            [
              '{"service":"Iot","action":"describeEndpoint","parameters":{"endpointType":"iot:Data-ATS"},',
              '"physicalResourceId":{"id":"',
              { Ref: 'AWS::StackName' },
              '-endpoint"}}',
            ],
          ],
        },
      },
    },
    OtherCustom: { Type: 'Custom::Thing', Properties: { ServiceToken: 'arn:aws:lambda:x' } },
  },
};

const resolver = (t: CfnTemplate = template, extra: object = {}) =>
  new IntrinsicResolver(t, { ...options, ...extra });
const resolve = (value: unknown) => resolver().resolve(value, 'Test.Value');

function errorOf(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('IntrinsicResolver', () => {
  it('resolves pseudo parameters to local values', () => {
    expect(
      resolve([
        { Ref: 'AWS::Region' },
        { Ref: 'AWS::AccountId' },
        { Ref: 'AWS::Partition' },
        { Ref: 'AWS::StackName' },
        { Ref: 'AWS::URLSuffix' },
      ]),
    ).toEqual(['eu-west-1', '000000000000', 'aws', 'Demo', 'amazonaws.com']);
    expect(resolve({ Ref: 'AWS::StackId' })).toMatch(
      /^arn:aws:cloudformation:eu-west-1:000000000000:stack\/Demo\/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('drops AWS::NoValue from objects and arrays', () => {
    expect(resolve({ a: 1, b: { Ref: 'AWS::NoValue' }, c: [1, { Ref: 'AWS::NoValue' }, 2] })).toEqual({
      a: 1,
      c: [1, 2],
    });
    expect(resolve({ Ref: 'AWS::NoValue' })).toBeUndefined();
  });

  it('resolves parameters to their Default (SSM parameter types included), lists split, given values first', () => {
    expect(resolve({ Ref: 'BootstrapVersion' })).toBe('/cdk-bootstrap/hnb659fds/version');
    expect(resolve({ Ref: 'Prefix' })).toBe('test-');
    expect(resolve({ Ref: 'Names' })).toEqual(['a', 'b', 'c']);
    expect(
      resolver(template, { parameters: { Prefix: 'dev-', NoDefault: 'x' } }).resolve(
        [{ Ref: 'Prefix' }, { Ref: 'NoDefault' }],
        'P',
      ),
    ).toEqual(['dev-', 'x']);
  });

  it('refuses a parameter with no Default and no value, naming it and the fix', () => {
    const error = errorOf(() => resolve({ Ref: 'NoDefault' }));
    expect(error).toBeInstanceOf(DeploymentError);
    expect(error.message).toBe(
      "Test.Value.Ref: parameter 'NoDefault' has no Default and no value was given: pass one in the parameters option",
    );
  });

  it('gives resources deterministic local physical ids and ARNs', () => {
    expect(
      resolve([
        { Ref: 'Fn' },
        { 'Fn::GetAtt': ['Fn', 'Arn'] },
        { 'Fn::GetAtt': 'NamedFn.Arn' },
        { Ref: 'Unsigned' },
        { 'Fn::GetAtt': ['Unsigned', 'Arn'] },
        { Ref: 'Signed' },
        { Ref: 'NamedSecret' },
        { 'Fn::GetAtt': ['Policy', 'Arn'] },
        { 'Fn::GetAtt': ['Role', 'Arn'] },
      ]),
    ).toEqual([
      'Demo-Fn',
      'arn:aws:lambda:eu-west-1:000000000000:function:Demo-Fn',
      'arn:aws:lambda:eu-west-1:000000000000:function:Demo-auth',
      'my-unsigned',
      'arn:aws:iot:eu-west-1:000000000000:authorizer/my-unsigned',
      'Signed',
      expect.stringMatching(
        /^arn:aws:secretsmanager:eu-west-1:000000000000:secret:device-credentials-[A-Za-z0-9]{6}$/,
      ),
      'arn:aws:iot:eu-west-1:000000000000:policy/Demo-Policy',
      'arn:aws:iam::000000000000:role/Demo-Role',
    ]);
    expect(resolve({ Ref: 'Secret' })).toBe(resolve({ 'Fn::GetAtt': ['Secret', 'Id'] }));
    expect(resolve({ Ref: 'Secret' })).toBe(resolver().resolve({ Ref: 'Secret' }, 'again'));
  });

  it('answers the DescribeEndpoint custom resource with the local endpoint host and its physical id', () => {
    expect(resolve({ 'Fn::GetAtt': ['Endpoint', 'endpointAddress'] })).toBe('local.iot.test');
    expect(resolve({ Ref: 'Endpoint' })).toBe('Demo-endpoint');
  });

  it('refuses custom resource attributes it cannot know, naming the resource and the path', () => {
    expect(errorOf(() => resolve({ 'Fn::GetAtt': ['OtherCustom', 'Value'] })).message).toBe(
      "Test.Value.Fn::GetAtt: custom resource 'OtherCustom' (Custom::Thing) runs its own provider; local-iot only knows the results of IoT DescribeEndpoint and DescribeDomainConfiguration, so it cannot resolve attribute Value",
    );
    expect(errorOf(() => resolve({ 'Fn::GetAtt': ['Endpoint', 'endpointType'] })).message).toBe(
      "Test.Value.Fn::GetAtt: custom resource 'Endpoint' calls IoT DescribeEndpoint, whose response has endpointAddress, not endpointType",
    );
  });

  it('refuses unsupported resource types and attributes, naming the resource', () => {
    expect(errorOf(() => resolve({ Ref: 'Topic' })).message).toBe(
      "Test.Value.Ref: Ref of resource 'Topic' (AWS::SNS::Topic) is not supported by local-iot",
    );
    expect(errorOf(() => resolve({ 'Fn::GetAtt': ['Fn', 'SnapStartResponse'] })).message).toBe(
      "Test.Value.Fn::GetAtt: attribute SnapStartResponse of resource 'Fn' (AWS::Lambda::Function) is not supported by local-iot",
    );
    expect(errorOf(() => resolve({ Ref: 'Missing' })).message).toBe(
      "Test.Value.Ref: Ref 'Missing' is neither a resource nor a parameter of the template",
    );
    expect(errorOf(() => resolve({ 'Fn::GetAtt': ['Missing', 'Arn'] })).message).toBe(
      "Test.Value.Fn::GetAtt: resource 'Missing' is not in the template",
    );
  });

  it('names the property path of the resource in errors from resolveProperty', () => {
    const t: CfnTemplate = {
      Resources: {
        Fn: {
          Type: 'AWS::Lambda::Function',
          Properties: { Environment: { Variables: { X: { 'Fn::ImportValue': 'Other' } } } },
        },
      },
    };
    const error = errorOf(() => resolver(t).resolveProperty('Fn', 'Environment.Variables'));
    expect(error).toBeInstanceOf(DeploymentError);
    expect(error.message).toBe(
      'Resources.Fn.Properties.Environment.Variables.X.Fn::ImportValue: Fn::ImportValue is not supported by local-iot (supported: Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split, Fn::If, Fn::FindInMap, Fn::Base64): remove it from what the authorizer uses',
    );
  });

  it('resolves Fn::Join, Fn::Select, Fn::Split, Fn::FindInMap and Fn::Base64', () => {
    expect(resolve({ 'Fn::Join': [':', ['a', { Ref: 'AWS::Region' }, 3]] })).toBe('a:eu-west-1:3');
    expect(resolve({ 'Fn::Join': ['-', { Ref: 'Names' }] })).toBe('a-b-c');
    expect(resolve({ 'Fn::Select': ['1', { 'Fn::Split': [',', 'x,y,z'] }] })).toBe('y');
    expect(resolve({ 'Fn::Select': [0, { Ref: 'Names' }] })).toBe('a');
    expect(resolve({ 'Fn::FindInMap': ['Settings', 'Ttl', 'refresh'] })).toBe(600);
    expect(resolve({ 'Fn::Base64': 'hi' })).toBe('aGk=');
    expect(errorOf(() => resolve({ 'Fn::Select': [5, ['a']] })).message).toBe(
      'Test.Value.Fn::Select: Fn::Select index 5 is outside the list of 1',
    );
  });

  it('resolves both forms of Fn::Sub, with GetAtt and escapes', () => {
    expect(
      resolve({ 'Fn::Sub': 'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:client/${Prefix}*' }),
    ).toBe('arn:aws:iot:eu-west-1:000000000000:client/test-*');
    expect(resolve({ 'Fn::Sub': '${Fn.Arn} ${Unsigned} ${!Literal}' })).toBe(
      'arn:aws:lambda:eu-west-1:000000000000:function:Demo-Fn my-unsigned ${Literal}',
    );
    expect(resolve({ 'Fn::Sub': ['${Name}-${AWS::Region}', { Name: { Ref: 'Prefix' } }] })).toBe(
      'test--eu-west-1',
    );
    expect(errorOf(() => resolve({ 'Fn::Sub': '${Nope}' })).message).toBe(
      "Test.Value.Fn::Sub (${Nope}): Ref 'Nope' is neither a resource nor a parameter of the template",
    );
  });

  it('evaluates conditions with Fn::If, Fn::Equals, Fn::And, Fn::Or, Fn::Not and Condition', () => {
    expect(resolve({ 'Fn::If': ['IsEu', 'eu', 'other'] })).toBe('eu');
    expect(resolve({ 'Fn::If': ['IsUs', 'us', { Ref: 'AWS::NoValue' }] })).toBeUndefined();
    expect(resolve({ 'Fn::If': ['Either', 'yes', 'no'] })).toBe('yes');
    expect(
      resolver(template, { region: 'us-east-1' }).resolve({ 'Fn::If': ['Both', 'yes', 'no'] }, 'P'),
    ).toBe('no');
    expect(resolver().conditionHolds('IsUs', 'Resources.X.Condition')).toBe(false);
    expect(resolver().conditionHolds(undefined, 'Resources.X.Condition')).toBe(true);
    expect(errorOf(() => resolve({ 'Fn::If': ['Loop', 1, 2] })).message).toBe(
      'Conditions.Loop.Condition: circular reference through Condition Loop',
    );
    expect(errorOf(() => resolve({ 'Fn::If': ['Nope', 1, 2] })).message).toBe(
      "Test.Value.Fn::If: condition 'Nope' is not in the template",
    );
  });

  it('detects circular references between resources', () => {
    const t: CfnTemplate = {
      Resources: {
        A: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: { Ref: 'B' } } },
        B: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: { Ref: 'A' } } },
      },
    };
    expect(errorOf(() => resolver(t).resolve({ Ref: 'A' }, 'P')).message).toBe(
      'Resources.B.Properties.FunctionName.Ref: circular reference through Ref A',
    );
  });

  it('resolveString converts numbers and refuses objects', () => {
    expect(resolver().resolveString(5, 'P')).toBe('5');
    expect(errorOf(() => resolver().resolveString({ a: 1 }, 'P')).message).toBe(
      'P: expected a string, but it resolves to an object',
    );
  });
});
