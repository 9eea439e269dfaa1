import fc from 'fast-check';
import {
  acceptedMasterKeys,
  buildDevicePolicies,
  deriveDevicePassword,
  DEVICE_PASSWORD_LENGTH,
  generateMasterKey,
  parseMasterSecret,
  serializeMasterSecret,
  type MasterSecret,
} from '../src';

const KEY = 'k'.repeat(32);
const OLD_KEY = 'o'.repeat(40);

describe('parseMasterSecret', () => {
  it('reads a generated secret: a master key and no revocations', () => {
    expect(parseMasterSecret(JSON.stringify({ masterKey: KEY, revokedDevices: {} }))).toEqual({
      ok: true,
      secret: { masterKey: KEY, revokedDevices: new Map() },
    });
  });

  it('reads revocations and a previous key with its end of validity', () => {
    const text = JSON.stringify({
      masterKey: KEY,
      revokedDevices: { 'test-a': '2026-01-01T00:00:00.000Z' },
      previousMasterKey: OLD_KEY,
      previousMasterKeyValidUntil: '2026-02-01T00:00:00.000Z',
    });
    expect(parseMasterSecret(text)).toEqual({
      ok: true,
      secret: {
        masterKey: KEY,
        revokedDevices: new Map([['test-a', '2026-01-01T00:00:00.000Z']]),
        previous: { masterKey: OLD_KEY, validUntil: new Date('2026-02-01T00:00:00.000Z') },
      },
    });
  });

  it.each([
    [undefined, 'the secret has no SecretString (a binary secret?)'],
    ['not json', 'the SecretString is not JSON'],
    ['[]', 'the SecretString is not a JSON object'],
    ['{"username":"device","password":"x"}', '"masterKey" must be a string'],
    ['{"masterKey":"short"}', '"masterKey" must be at least 32 characters (it has 5)'],
    [
      JSON.stringify({ masterKey: KEY, revokedDevices: ['test-a'] }),
      '"revokedDevices" must be an object of device id -> time of revocation (strings)',
    ],
    [
      JSON.stringify({ masterKey: KEY, revokedDevices: { 'test-a': 1 } }),
      '"revokedDevices" must be an object of device id -> time of revocation (strings)',
    ],
    [
      JSON.stringify({ masterKey: KEY, previousMasterKey: OLD_KEY }),
      '"previousMasterKeyValidUntil" must be an ISO 8601 time when "previousMasterKey" is set',
    ],
    [
      JSON.stringify({ masterKey: KEY, previousMasterKeyValidUntil: 'x' }),
      '"previousMasterKey" must be a string',
    ],
  ])('refuses %j: %s', (text, problem) => {
    expect(parseMasterSecret(text)).toEqual({ ok: false, problem });
  });

  it('never echoes a key in a problem', () => {
    const secretKey = 'SECRET'.repeat(3);
    const result = parseMasterSecret(JSON.stringify({ masterKey: secretKey }));
    expect(result.ok).toBe(false);
    expect(JSON.stringify(result)).not.toContain(secretKey);
  });

  it('serializes what it parses', () => {
    const secret: MasterSecret = {
      masterKey: KEY,
      revokedDevices: new Map([['test-b', '2026-03-01T00:00:00.000Z']]),
      previous: { masterKey: OLD_KEY, validUntil: new Date('2026-02-01T00:00:00.000Z') },
    };
    expect(parseMasterSecret(serializeMasterSecret(secret))).toEqual({ ok: true, secret });
  });
});

describe('acceptedMasterKeys', () => {
  const secret: MasterSecret = {
    masterKey: KEY,
    revokedDevices: new Map(),
    previous: { masterKey: OLD_KEY, validUntil: new Date('2026-02-01T00:00:00.000Z') },
  };

  it('accepts both keys before the end of the grace period, then only the current one', () => {
    expect(acceptedMasterKeys(secret, new Date('2026-01-31T23:59:59.999Z'))).toEqual([KEY, OLD_KEY]);
    expect(acceptedMasterKeys(secret, new Date('2026-02-01T00:00:00.000Z'))).toEqual([KEY]);
    expect(acceptedMasterKeys({ masterKey: KEY, revokedDevices: new Map() }, new Date(0))).toEqual([KEY]);
  });
});

describe('deriveDevicePassword', () => {
  it('is base64url of HMAC-SHA-256 over the label and the device id (a fixed vector)', () => {
    // Computed independently: printf 'iot-custom-auth device password v1\ntest-1' |
    //   openssl dgst -sha256 -hmac kkkk...(32) -binary | basenc --base64url
    expect(deriveDevicePassword(KEY, 'test-1')).toBe('czVmcBLnM6PiY2d5KVbB0g8J_-oCwZnDqxyc5EU0vgI');
  });

  it('gives 43 URL-safe characters for any key and device id', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 32 }), fc.string({ minLength: 1 }), (key, id) => {
        const password = deriveDevicePassword(key, id);
        expect(password).toMatch(/^[A-Za-z0-9_-]{43}$/);
        expect(password).toHaveLength(DEVICE_PASSWORD_LENGTH);
      }),
    );
  });

  it('gives distinct devices distinct passwords, and distinct keys distinct passwords', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 64 }),
        fc.string({ minLength: 1, maxLength: 64 }),
        (a, b) => {
          fc.pre(a !== b);
          expect(deriveDevicePassword(KEY, a)).not.toBe(deriveDevicePassword(KEY, b));
          expect(deriveDevicePassword(KEY, a)).not.toBe(deriveDevicePassword(OLD_KEY, a));
        },
      ),
    );
  });

  it('generates 256-bit master keys that are never equal', () => {
    const keys = new Set(Array.from({ length: 50 }, generateMasterKey));
    expect(keys.size).toBe(50);
    for (const key of keys) expect(Buffer.from(key, 'base64url')).toHaveLength(32);
  });
});

describe('buildDevicePolicies for one device', () => {
  it('allows connecting as that device only, and names its topics literally (no ${iot:ClientId})', () => {
    const [connect, topics] = buildDevicePolicies({
      region: 'eu-west-1',
      account: '123456789012',
      deviceId: 'test-7',
    });
    expect(connect?.Statement).toEqual([
      {
        Sid: 'ConnectAsDevice',
        Effect: 'Allow',
        Action: 'iot:Connect',
        Resource: 'arn:aws:iot:eu-west-1:123456789012:client/test-7',
      },
    ]);
    expect(JSON.stringify(topics)).not.toContain('${iot:ClientId}');
    expect(topics?.Statement[0]?.Resource).toEqual([
      'arn:aws:iot:eu-west-1:123456789012:topic/devices/test-7',
      'arn:aws:iot:eu-west-1:123456789012:topic/devices/test-7/*',
    ]);
  });
});
