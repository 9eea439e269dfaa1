import fc from 'fast-check';
import {
  AUTHORIZER_NAME_PARAM,
  AUTHORIZER_SIGNATURE_PARAM,
  ProtocolError,
  buildCustomAuthUsername,
  isStandardBase64,
  parseCustomAuthUsername,
  toUrlEncodedSignature,
  usernameParam,
} from '../src';

describe('parseCustomAuthUsername', () => {
  it.each([
    ['alice', { user: 'alice', params: [] }],
    ['', { user: '', params: [] }],
    ['alice?', { user: 'alice', params: [] }],
    [
      'alice?x-amz-customauthorizer-name=MyAuth',
      { user: 'alice', params: [['x-amz-customauthorizer-name', 'MyAuth']] },
    ],
    [
      '?x-amz-customauthorizer-name=A&token=abc&x-amz-customauthorizer-signature=ab%2Bc%2F%3D%3D',
      {
        user: '',
        params: [
          ['x-amz-customauthorizer-name', 'A'],
          ['token', 'abc'],
          ['x-amz-customauthorizer-signature', 'ab+c/=='],
        ],
      },
    ],
  ])('splits %j', (raw, expected) => {
    expect(parseCustomAuthUsername(raw)).toEqual(expected);
  });

  it('reads the JS SDK metrics parameters, including a parenthesised Metadata value with & and =', () => {
    const raw =
      'device?x-amz-customauthorizer-name=Unsigned&SDK=IoTDeviceSDK/JS&Platform=Linux&Metadata=(a=b&c=d;e=f)&after=1';
    expect(parseCustomAuthUsername(raw)).toEqual({
      user: 'device',
      params: [
        ['x-amz-customauthorizer-name', 'Unsigned'],
        ['SDK', 'IoTDeviceSDK/JS'],
        ['Platform', 'Linux'],
        ['Metadata', '(a=b&c=d;e=f)'],
        ['after', '1'],
      ],
    });
  });

  it('treats a second ? as a parameter separator (an SDK appending its metrics with ?)', () => {
    const parsed = parseCustomAuthUsername('u?x-amz-customauthorizer-name=A?SDK=PythonV2&Version=1.2');
    expect(parsed.params).toEqual([
      ['x-amz-customauthorizer-name', 'A'],
      ['SDK', 'PythonV2'],
      ['Version', '1.2'],
    ]);
  });

  it('keeps = inside values, gives flags an empty value and skips empty segments', () => {
    const parsed = parseCustomAuthUsername('u?sig=abc==&flag&&=orphan&x=1=2');
    expect(parsed.params).toEqual([
      ['sig', 'abc=='],
      ['flag', ''],
      ['x', '1=2'],
    ]);
  });

  it('keeps a value that is not valid percent-encoding as sent', () => {
    expect(parseCustomAuthUsername('u?token=%E0%A4%A').params).toEqual([['token', '%E0%A4%A']]);
  });

  it('lets the first occurrence of a repeated parameter win', () => {
    const parsed = parseCustomAuthUsername(
      'u?x-amz-customauthorizer-name=first&x-amz-customauthorizer-name=second',
    );
    expect(usernameParam(parsed, AUTHORIZER_NAME_PARAM)).toBe('first');
    expect(usernameParam(parsed, 'missing')).toBeUndefined();
  });

  it('never throws and always returns the text before the first ? as the user', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (raw) => {
        const parsed = parseCustomAuthUsername(raw);
        const q = raw.indexOf('?');
        expect(parsed.user).toBe(q < 0 ? raw : raw.slice(0, q));
        for (const [name] of parsed.params) expect(name.length).toBeGreaterThan(0);
      }),
    );
  });

  it('reads back every parameter that buildCustomAuthUsername wrote', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string({ minLength: 1 }),
        fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/),
        fc.string({ minLength: 1 }),
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        (user, authorizerName, tokenKeyName, token, signatureBytes) => {
          const cleanUser = user.replaceAll('?', '');
          const signature = Buffer.from(signatureBytes).toString('base64');
          const username = buildCustomAuthUsername({
            user: cleanUser,
            authorizerName,
            tokenKeyName,
            token,
            signature,
          });
          const parsed = parseCustomAuthUsername(`${username}&SDK=IoTDeviceSDK/JS&Metadata=(x=y)`);
          expect(parsed.user).toBe(cleanUser);
          expect(usernameParam(parsed, AUTHORIZER_NAME_PARAM)).toBe(authorizerName);
          expect(usernameParam(parsed, AUTHORIZER_SIGNATURE_PARAM)).toBe(signature);
          if (tokenKeyName !== AUTHORIZER_NAME_PARAM) expect(usernameParam(parsed, tokenKeyName)).toBe(token);
        },
      ),
    );
  });
});

describe('buildCustomAuthUsername', () => {
  it('builds the documented username with every value URL-encoded once', () => {
    expect(
      buildCustomAuthUsername({
        user: 'device',
        authorizerName: 'My Auth',
        tokenKeyName: 'token',
        token: 'eyJh',
        signature: 'ab+c/d==',
      }),
    ).toBe(
      'device?x-amz-customauthorizer-name=My%20Auth&token=eyJh&x-amz-customauthorizer-signature=ab%2Bc%2Fd%3D%3D',
    );
  });

  it('returns the bare user when there is nothing to add', () => {
    expect(buildCustomAuthUsername({ user: 'device' })).toBe('device');
    expect(buildCustomAuthUsername({})).toBe('');
  });

  it('throws when only one of token key name and token is given', () => {
    expect(() => buildCustomAuthUsername({ tokenKeyName: 'token' })).toThrow(
      new ProtocolError('tokenKeyName and token must be given together: set both, or neither'),
    );
    expect(() => buildCustomAuthUsername({ token: 'abc' })).toThrow(ProtocolError);
  });
});

describe('toUrlEncodedSignature', () => {
  it.each([
    ['ab+c/d==', 'ab%2Bc%2Fd%3D%3D'],
    ['ab%2Bc%2Fd%3D%3D', 'ab%2Bc%2Fd%3D%3D'],
    ['ab%2bc%2fd%3d%3d', 'ab%2Bc%2Fd%3D%3D'],
    ['abcd', 'abcd'],
  ])('encodes %s exactly once', (input, expected) => {
    expect(toUrlEncodedSignature(input)).toBe(expected);
  });

  it.each(['ab-c_d==', '', 'not base64!', 'abc', '%ZZ'])(
    'rejects %j with a message naming the expected format',
    (input) => {
      expect(() => toUrlEncodedSignature(input)).toThrow(/must be standard base64/);
    },
  );

  it('is idempotent for every standard base64 signature', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), (bytes) => {
        const raw = Buffer.from(bytes).toString('base64');
        const once = toUrlEncodedSignature(raw);
        expect(toUrlEncodedSignature(once)).toBe(once);
        expect(decodeURIComponent(once)).toBe(raw);
      }),
    );
  });
});

describe('isStandardBase64', () => {
  it.each([
    ['QQ==', true],
    ['QUI=', true],
    ['QUJD', true],
    ['QQ', false],
    ['Q-_=', false],
    ['', false],
    ['QQ==QQ==', false],
  ])('%j -> %s', (text, expected) => {
    expect(isStandardBase64(text)).toBe(expected);
  });
});
