import { authorizerResponseProblems } from '@iot-custom-auth/protocol';
import type { IoTCustomAuthorizerResult } from 'aws-lambda';
import {
  DENIED_PRINCIPAL_ID,
  DENY_EVERYTHING_POLICY,
  MAX_CERTIFICATE_PEM_LENGTH,
  UNVERIFIED_PRINCIPAL_ID,
  createDecisionLogger,
  createHandler,
  loadConfig,
  type DecisionLogEntry,
} from '../src';
import {
  createCaCertificate,
  createDeviceCertificate,
  certificateEvent,
  newKeys,
  x509Event,
  X509_CONNECTION_ID,
  type DeviceCertificate,
  type Keys,
} from './support/certificates';
import { CONTEXT, SECRET_ARN, captureOutput, devicePolicies, fixture } from './support/events';

const DAY_MS = 86_400_000;
/** The Lambda's clock in these tests. */
const NOW = new Date('2026-06-01T12:00:00Z');
const DEVICE = 'test-mtls-demo';
/** The default TOKEN_CLOCK_SKEW_SECONDS, which the certificate's validity is checked with too. */
const SKEW_MS = 60_000;

const DENIED: IoTCustomAuthorizerResult = {
  isAuthenticated: false,
  principalId: DENIED_PRINCIPAL_ID,
  disconnectAfterInSeconds: 86_400,
  refreshAfterInSeconds: 300,
  policyDocuments: [],
};
const REFUSED: IoTCustomAuthorizerResult = {
  isAuthenticated: true,
  principalId: UNVERIFIED_PRINCIPAL_ID,
  disconnectAfterInSeconds: 86_400,
  refreshAfterInSeconds: 300,
  policyDocuments: [DENY_EVERYTHING_POLICY],
};

function allowed(certificateId: string, deviceId = DEVICE): IoTCustomAuthorizerResult {
  return {
    isAuthenticated: true,
    principalId: certificateId,
    disconnectAfterInSeconds: 86_400,
    refreshAfterInSeconds: 300,
    policyDocuments: devicePolicies(deviceId),
  };
}

/**
 * The real handler with its decision log captured. The master secret source fails the test if it is asked:
 * X.509 mode must never read Secrets Manager.
 */
function x509Handler(env: Record<string, string> = {}) {
  const entries: DecisionLogEntry[] = [];
  const secretReads = jest.fn(() => Promise.reject(new Error('X.509 mode read the master secret')));
  const handler = createHandler({
    config: loadConfig({ DEVICE_SECRET_ARN: SECRET_ARN, ...env }),
    masterSecret: { get: secretReads },
    log: (entry) => entries.push(entry),
    now: () => NOW,
  });
  return {
    entries,
    secretReads,
    decide: async (event: unknown) => {
      const result = await handler(event, CONTEXT);
      expect(authorizerResponseProblems(result)).toEqual([]);
      return result;
    },
  };
}

let keys: Keys;
let demo: DeviceCertificate;

beforeAll(async () => {
  keys = await newKeys();
  demo = await createDeviceCertificate(keys, {
    commonName: DEVICE,
    notBefore: new Date(NOW.getTime() - DAY_MS),
    notAfter: new Date(NOW.getTime() + 365 * DAY_MS),
  });
});

/** A certificate of DEVICE valid from..to (relative to NOW, in ms). */
function certificateValid(fromMs: number, toMs: number): Promise<DeviceCertificate> {
  return createDeviceCertificate(keys, {
    commonName: DEVICE,
    notBefore: new Date(NOW.getTime() + fromMs),
    notAfter: new Date(NOW.getTime() + toMs),
  });
}

describe('x509 mode: allow', () => {
  it("returns principalId = the certificate id and the CN's device policies, without reading the master secret", async () => {
    const { decide, entries, secretReads } = x509Handler();
    await expect(decide(certificateEvent(demo))).resolves.toEqual(allowed(demo.certificateId));
    expect(secretReads).not.toHaveBeenCalled();
    expect(entries).toEqual([
      {
        decision: 'ALLOW',
        reason: 'X509_OK',
        mode: 'x509',
        clientId: DEVICE,
        deviceId: DEVICE,
        certificateId: demo.certificateId,
        subjectCn: DEVICE,
        connectionId: X509_CONNECTION_ID,
        principalId: demo.certificateId,
        durationMs: expect.any(Number) as number,
      },
    ]);
  });

  it('admits a certificate issued by a CA as well as a self-signed one (AWS IoT verified the chain)', async () => {
    const ca = await createCaCertificate(await newKeys());
    const issued = await createDeviceCertificate(keys, {
      commonName: 'test-issued-1',
      issuer: ca,
      notBefore: new Date(NOW.getTime() - DAY_MS),
      notAfter: new Date(NOW.getTime() + DAY_MS),
    });
    const { decide } = x509Handler();
    await expect(decide(certificateEvent(issued, 'test-issued-1'))).resolves.toEqual(
      allowed(issued.certificateId, 'test-issued-1'),
    );
  });

  it('accepts a certificate id in upper case and returns it exactly as sent', async () => {
    const upper = demo.certificateId.toUpperCase();
    const { decide } = x509Handler();
    await expect(decide(x509Event({ pem: demo.pem, principalId: upper, clientId: DEVICE }))).resolves.toEqual(
      allowed(upper),
    );
  });

  it('accepts CRLF line breaks and surrounding whitespace in the PEM', async () => {
    const { decide } = x509Handler();
    const pem = `\n  ${demo.pem.replace(/\n/g, '\r\n')}  \n`;
    await expect(
      decide(x509Event({ pem, principalId: demo.certificateId, clientId: DEVICE })),
    ).resolves.toEqual(allowed(demo.certificateId));
  });

  it('is X.509 mode whatever signatureVerified and a token say (the certificate wins)', async () => {
    const { decide, entries } = x509Handler();
    const event = { ...certificateEvent(demo), signatureVerified: true, token: 'not-a-token' };
    await expect(decide(event)).resolves.toEqual(allowed(demo.certificateId));
    expect(entries[0]).toMatchObject({ mode: 'x509', reason: 'X509_OK' });
  });

  it('ignores an MQTT user name and password sent along (the certificate authenticates)', async () => {
    const { decide } = x509Handler();
    const event = x509Event({
      pem: demo.pem,
      principalId: demo.certificateId,
      clientId: DEVICE,
      username: 'someone-else',
      password: 'bm90LWNoZWNrZWQ=',
    });
    await expect(decide(event)).resolves.toEqual(allowed(demo.certificateId));
  });
});

describe('x509 mode: validity, with the clock skew of tokens', () => {
  it.each([
    ['valid from just inside the skew', SKEW_MS - 1000, DAY_MS, 'X509_OK'],
    ['not yet valid beyond the skew', SKEW_MS + 1000, DAY_MS, 'X509_CERTIFICATE_NOT_YET_VALID'],
    ['expired just inside the skew', -DAY_MS, -(SKEW_MS - 1000), 'X509_OK'],
    ['expired beyond the skew', -DAY_MS, -(SKEW_MS + 1000), 'X509_CERTIFICATE_EXPIRED'],
  ])('%s', async (_name, fromMs, toMs, reason) => {
    const certificate = await certificateValid(fromMs, toMs);
    const { decide, entries } = x509Handler();
    const result = await decide(certificateEvent(certificate));
    expect(entries[0]?.reason).toBe(reason);
    expect(result).toEqual(reason === 'X509_OK' ? allowed(certificate.certificateId) : DENIED);
  });

  it('uses TOKEN_CLOCK_SKEW_SECONDS for the certificate as well', async () => {
    const certificate = await certificateValid(-DAY_MS, -5000);
    const { decide, entries } = x509Handler({ TOKEN_CLOCK_SKEW_SECONDS: '0' });
    await expect(decide(certificateEvent(certificate))).resolves.toEqual(DENIED);
    expect(entries[0]).toMatchObject({
      reason: 'X509_CERTIFICATE_EXPIRED',
      detail: `the certificate expired at ${new Date(NOW.getTime() - 5000).toISOString().replace(/\.\d+Z$/, '.000Z')}`,
    });
  });
});

describe('x509 mode: the subject CN and the client id', () => {
  it.each([
    ['no CN', [{ O: ['Example'] }], 'the certificate subject has no CN'],
    [
      'two CNs',
      [{ CN: ['test-a'] }, { CN: ['test-b'] }],
      'the certificate subject has 2 CNs; exactly one is expected',
    ],
    [
      'a CN with a topic wildcard',
      [{ CN: ['test-#'] }],
      'the subject CN is not a safe client id: contains "#"; only A-Z a-z 0-9 _ . : - are allowed',
    ],
    [
      'a CN with a slash',
      [{ CN: ['test-a/b'] }],
      'the subject CN is not a safe client id: contains "/"; only A-Z a-z 0-9 _ . : - are allowed',
    ],
    [
      // Read whole, not cut at the NUL as a C string would be: 'test-a' must not come out of it.
      'a CN with a NUL byte',
      [{ CN: ['test-a\u0000evil'] }],
      'the subject CN is not a safe client id: contains "\\u0000"; only A-Z a-z 0-9 _ . : - are allowed',
    ],
    [
      'a CN that reads like two names',
      [{ CN: ['test-a,CN=test-b'] }],
      'the subject CN is not a safe client id: contains ","; only A-Z a-z 0-9 _ . : - are allowed',
    ],
    ['an empty CN', [{ CN: [''] }], 'the subject CN is not a safe client id: is empty'],
    [
      'a CN longer than 128 bytes',
      [{ CN: [`test-${'x'.repeat(124)}`] }],
      'the subject CN is not a safe client id: is longer than 128 bytes',
    ],
    ['a CN outside the prefix', [{ CN: ['prod-1'] }], "the subject CN must start with 'test-'"],
  ])('denies %s (X509_SUBJECT_CN_INVALID)', async (_name, subject, detail) => {
    const certificate = await createDeviceCertificate(keys, {
      subject,
      notBefore: new Date(NOW.getTime() - DAY_MS),
    });
    const { decide, entries } = x509Handler();
    await expect(decide(certificateEvent(certificate, 'test-a'))).resolves.toEqual(DENIED);
    expect(entries[0]).toMatchObject({
      decision: 'DENY',
      reason: 'X509_SUBJECT_CN_INVALID',
      mode: 'x509',
      detail,
    });
  });

  it('does not take a CN from another attribute whose value reads like one', async () => {
    const certificate = await createDeviceCertificate(keys, {
      subject: [{ O: [`x\nCN=${DEVICE}`] }],
      notBefore: new Date(NOW.getTime() - DAY_MS),
    });
    const { decide, entries } = x509Handler();
    await expect(decide(certificateEvent(certificate))).resolves.toEqual(DENIED);
    expect(entries[0]).toMatchObject({
      reason: 'X509_SUBJECT_CN_INVALID',
      detail: 'the certificate subject has no CN',
    });
  });

  it("denies a client id other than the certificate's CN (X509_CLIENT_ID_MISMATCH): no device acts as another", async () => {
    const { decide, entries } = x509Handler();
    await expect(decide(certificateEvent(demo, 'test-other'))).resolves.toEqual(DENIED);
    expect(entries[0]).toMatchObject({
      reason: 'X509_CLIENT_ID_MISMATCH',
      clientId: 'test-other',
      deviceId: DEVICE,
      subjectCn: DEVICE,
      certificateId: demo.certificateId,
    });
  });

  it('denies a connect without a client id (X509_CLIENT_ID_MISSING)', async () => {
    const { decide, entries } = x509Handler();
    await expect(decide(x509Event({ pem: demo.pem, principalId: demo.certificateId }))).resolves.toEqual(
      DENIED,
    );
    expect(entries[0]).toMatchObject({ reason: 'X509_CLIENT_ID_MISSING', subjectCn: DEVICE });
  });

  it('denies an HTTPS event of an X.509 domain (no MQTT client id to bind the CN to)', async () => {
    const { decide, entries } = x509Handler();
    const event = {
      signatureVerified: false,
      protocols: ['tls', 'http'],
      protocolData: {
        tls: {
          serverName: 'x509.example.com',
          x509CertificatePem: demo.pem,
          principalId: demo.certificateId,
        },
        http: { headers: {}, queryString: '?qos=1' },
      },
      connectionMetadata: { id: X509_CONNECTION_ID },
    };
    await expect(decide(event)).resolves.toEqual(DENIED);
    expect(entries[0]).toMatchObject({ mode: 'x509', reason: 'X509_CLIENT_ID_MISSING' });
  });

  it('refuses an unsafe client id before looking at the certificate (UNSAFE_CLIENT_ID, as in every mode)', async () => {
    const { decide, entries } = x509Handler();
    await expect(decide(certificateEvent(demo, 'test-+'))).resolves.toEqual(DENIED);
    expect(entries[0]).toMatchObject({ reason: 'UNSAFE_CLIENT_ID', mode: 'x509' });
  });

  it('honours CLIENT_ID_PREFIX for the CN', async () => {
    const certificate = await createDeviceCertificate(keys, {
      commonName: 'fleet-7',
      notBefore: new Date(NOW.getTime() - DAY_MS),
    });
    const { decide } = x509Handler({ CLIENT_ID_PREFIX: 'fleet-' });
    const result = await decide(certificateEvent(certificate, 'fleet-7'));
    expect(result).toMatchObject({ isAuthenticated: true, principalId: certificate.certificateId });
  });
});

describe('x509 mode: a malformed certificate (X509_CERTIFICATE_MALFORMED)', () => {
  const cases: [string, () => unknown, string][] = [
    ['a number', () => 42, 'protocolData.tls.x509CertificatePem is not a string'],
    ['null', () => null, 'protocolData.tls.x509CertificatePem is not a string'],
    ['an object', () => ({ pem: 'x' }), 'protocolData.tls.x509CertificatePem is not a string'],
    [
      'the empty string',
      () => '',
      'protocolData.tls.x509CertificatePem holds 0 PEM certificates; exactly one is expected',
    ],
    [
      'garbage',
      () => 'not a certificate',
      'protocolData.tls.x509CertificatePem holds 0 PEM certificates; exactly one is expected',
    ],
    [
      'a private key PEM',
      () => '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n',
      'protocolData.tls.x509CertificatePem holds 0 PEM certificates; exactly one is expected',
    ],
    [
      'two certificates',
      () => demo.pem + demo.pem,
      'protocolData.tls.x509CertificatePem holds 2 PEM certificates; exactly one is expected',
    ],
    [
      'a truncated PEM',
      () => demo.pem.slice(0, 120),
      'protocolData.tls.x509CertificatePem is not one -----BEGIN/END CERTIFICATE----- block of base64',
    ],
    [
      'a PEM cut inside its body',
      () => `${demo.pem.slice(0, 120)}\n-----END CERTIFICATE-----\n`,
      'protocolData.tls.x509CertificatePem is not one -----BEGIN/END CERTIFICATE----- block of base64',
    ],
    [
      'text after the END line',
      () => `${demo.pem}trailing`,
      'protocolData.tls.x509CertificatePem is not one -----BEGIN/END CERTIFICATE----- block of base64',
    ],
    [
      'base64 that is not DER',
      () =>
        `-----BEGIN CERTIFICATE-----\n${Buffer.from('hello world!').toString('base64')}\n-----END CERTIFICATE-----\n`,
      'protocolData.tls.x509CertificatePem does not parse as an X.509 certificate',
    ],
    [
      'bytes after the DER',
      () =>
        `-----BEGIN CERTIFICATE-----\n${Buffer.concat([Buffer.from(demo.derBase64, 'base64'), Buffer.from('extra')]).toString('base64')}\n-----END CERTIFICATE-----\n`,
      'protocolData.tls.x509CertificatePem has bytes after the certificate',
    ],
    [
      'longer than AWS IoT registers',
      () => `${demo.pem}${' '.repeat(MAX_CERTIFICATE_PEM_LENGTH)}`,
      `protocolData.tls.x509CertificatePem is longer than ${MAX_CERTIFICATE_PEM_LENGTH} characters`,
    ],
  ];

  it.each(cases)('denies %s', async (_name, pem, detail) => {
    const { decide, entries } = x509Handler();
    await expect(
      decide(x509Event({ pem: pem(), principalId: demo.certificateId, clientId: DEVICE })),
    ).resolves.toEqual(DENIED);
    expect(entries).toEqual([
      expect.objectContaining({
        decision: 'DENY',
        reason: 'X509_CERTIFICATE_MALFORMED',
        mode: 'x509',
        detail,
      }),
    ]);
  });

  it('denies a huge base64 body within the length limit without throwing', async () => {
    const pem = `-----BEGIN CERTIFICATE-----\n${'QUFB'.repeat(16_000)}\n-----END CERTIFICATE-----\n`;
    const { decide, entries } = x509Handler();
    await expect(
      decide(x509Event({ pem, principalId: demo.certificateId, clientId: DEVICE })),
    ).resolves.toEqual(DENIED);
    expect(entries[0]?.reason).toBe('X509_CERTIFICATE_MALFORMED');
  });
});

describe('x509 mode: the certificate id (a refusal of the authorizer: the event is not AWS IoT’s)', () => {
  it.each([
    ['missing', undefined],
    ['a number', 1234],
    ['not hex', 'z'.repeat(64)],
    ['63 digits', 'a'.repeat(63)],
    ['65 digits', 'a'.repeat(65)],
  ])(
    'refuses a principalId that is %s (X509_PRINCIPAL_ID_INVALID, deny-all, ERROR)',
    async (_name, principalId) => {
      const { decide, entries } = x509Handler();
      await expect(decide(x509Event({ pem: demo.pem, principalId, clientId: DEVICE }))).resolves.toEqual(
        REFUSED,
      );
      expect(entries[0]).toMatchObject({
        decision: 'DENY',
        reason: 'X509_PRINCIPAL_ID_INVALID',
        mode: 'x509',
      });
      expect(entries[0]).not.toHaveProperty('certificateId');
    },
  );

  it("refuses a principalId that is another certificate's id (X509_PRINCIPAL_ID_MISMATCH)", async () => {
    const other = await createDeviceCertificate(keys, { commonName: 'test-other' });
    const { decide, entries } = x509Handler();
    await expect(
      decide(x509Event({ pem: demo.pem, principalId: other.certificateId, clientId: DEVICE })),
    ).resolves.toEqual(REFUSED);
    expect(entries[0]).toMatchObject({
      reason: 'X509_PRINCIPAL_ID_MISMATCH',
      certificateId: other.certificateId,
    });
  });

  it("logs the refusal at ERROR level (the authorizer's environment, not the device)", async () => {
    const target = { info: jest.fn(), warn: jest.fn(), error: jest.fn() };
    const handler = createHandler({
      config: loadConfig({ DEVICE_SECRET_ARN: SECRET_ARN }),
      masterSecret: { get: () => Promise.reject(new Error('unused')) },
      log: createDecisionLogger('json', target),
      now: () => NOW,
    });
    await handler(x509Event({ pem: demo.pem, principalId: 'a'.repeat(64), clientId: DEVICE }), CONTEXT);
    await handler(certificateEvent(demo, 'test-other'), CONTEXT);
    await handler(certificateEvent(demo), CONTEXT);
    expect(target.error).toHaveBeenCalledWith(
      expect.objectContaining({ reason: 'X509_PRINCIPAL_ID_MISMATCH' }),
    );
    expect(target.warn).toHaveBeenCalledWith(expect.objectContaining({ reason: 'X509_CLIENT_ID_MISMATCH' }));
    expect(target.info).toHaveBeenCalledWith(expect.objectContaining({ reason: 'X509_OK' }));
  });
});

describe('x509 mode: pinning (X509_TRUSTED_CERTIFICATE_FINGERPRINTS)', () => {
  it('admits a listed certificate, in any listed form (hex, or colons as openssl prints it)', async () => {
    const colons = demo.certificateId.toUpperCase().match(/../g)!.join(':');
    for (const listed of [demo.certificateId, colons, `${'0'.repeat(64)}, ${colons}`]) {
      const { decide } = x509Handler({ X509_TRUSTED_CERTIFICATE_FINGERPRINTS: listed });
      await expect(decide(certificateEvent(demo))).resolves.toEqual(allowed(demo.certificateId));
    }
  });

  it('denies a certificate that is not listed (X509_CERTIFICATE_NOT_TRUSTED)', async () => {
    const { decide, entries } = x509Handler({ X509_TRUSTED_CERTIFICATE_FINGERPRINTS: '0'.repeat(64) });
    await expect(decide(certificateEvent(demo))).resolves.toEqual(DENIED);
    expect(entries[0]).toMatchObject({
      reason: 'X509_CERTIFICATE_NOT_TRUSTED',
      detail: "the certificate's SHA-256 fingerprint is not in X509_TRUSTED_CERTIFICATE_FINGERPRINTS",
    });
  });
});

describe('x509 mode: events', () => {
  it("denies the AWS documentation's example event (placeholder values) without throwing", async () => {
    // https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth-509cert.html, "Lambda function event example"
    const event = {
      token: 'aToken',
      signatureVerified: true,
      protocols: ['tls', 'mqtt'],
      protocolData: {
        tls: {
          serverName: 'serverName',
          x509CertificatePem: 'x509CertificatePem',
          principalId: 'principalId',
        },
        mqtt: { clientId: 'myClientId', username: 'myUserName', password: 'myPassword' },
      },
      connectionMetadata: { id: 'UUID' },
    };
    const { decide, entries } = x509Handler();
    await expect(decide(event)).resolves.toEqual(REFUSED);
    expect(entries[0]).toMatchObject({ mode: 'x509', reason: 'X509_PRINCIPAL_ID_INVALID' });
  });

  it('leaves events without a certificate to the other modes', async () => {
    const { decide, entries } = x509Handler();
    const event = fixture('sdk-direct-signed');
    await decide(event);
    expect(entries[0]?.mode).toBe('signed');
    await decide({ ...event, protocolData: { tls: { serverName: 'x', principalId: demo.certificateId } } });
    expect(entries[1]?.mode).toBe('signed');
  });

  it('never logs the PEM', async () => {
    const output = captureOutput();
    try {
      const handler = createHandler({
        config: loadConfig({ DEVICE_SECRET_ARN: SECRET_ARN }),
        masterSecret: { get: () => Promise.reject(new Error('unused')) },
        now: () => NOW,
      });
      for (const event of [
        certificateEvent(demo),
        certificateEvent(demo, 'test-other'),
        x509Event({ pem: demo.pem, principalId: 'b'.repeat(64), clientId: DEVICE }),
        x509Event({ pem: demo.pem.slice(0, 200), principalId: demo.certificateId, clientId: DEVICE }),
      ]) {
        await handler(event, CONTEXT);
      }
    } finally {
      output.restore();
    }
    expect(output.entries).toHaveLength(4);
    const text = output.text();
    expect(text).toContain(demo.certificateId);
    expect(text).not.toContain('BEGIN CERTIFICATE');
    for (const line of demo.pem.split('\n').filter((l) => l.length > 16 && !l.startsWith('-----'))) {
      expect(text).not.toContain(line);
    }
  });
});
