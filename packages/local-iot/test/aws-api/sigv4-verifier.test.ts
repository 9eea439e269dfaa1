import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { generateLocalAwsCredentials } from '../../src/aws-api/local-aws-credentials';
import {
  SigV4Verifier,
  type IncomingSignedRequest,
  type SigV4Refusal,
} from '../../src/aws-api/sigv4-verifier';
import { signedHeaders, type RequestToSign } from '../support/sigv4-signing';

const REGION = 'eu-west-1';
const HOST = '127.0.0.1:4567';
const NOW = new Date('2024-03-05T10:20:30.000Z');
const credentials = generateLocalAwsCredentials();
const verifier = new SigV4Verifier({ credentials, region: REGION, now: () => NOW });
const MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

const GET_SECRET: RequestToSign = {
  service: 'secretsmanager',
  method: 'POST',
  url: `http://${HOST}/`,
  headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.GetSecretValue' },
  body: '{"SecretId":"arn:aws:secretsmanager:eu-west-1:000000000000:secret:Stack-DeviceSecret-AbCdEf"}',
  signingDate: NOW,
};

/** `request` signed (as the SDK signs) and then seen as the server receives it. */
async function signed(
  request: RequestToSign = GET_SECRET,
  signer: { credentials: typeof credentials; region: string } = { credentials, region: REGION },
): Promise<IncomingSignedRequest> {
  const headers = await signedHeaders(signer, request);
  const url = new URL(request.url);
  return {
    method: request.method,
    url: `${url.pathname}${url.search}`,
    headers: Object.fromEntries(
      Object.entries({ host: url.host, ...headers }).map(([name, value]) => [name.toLowerCase(), [value]]),
    ),
    body: Buffer.from(request.body ?? ''),
  };
}

function withHeader(request: IncomingSignedRequest, name: string, value: string | undefined) {
  const headers = { ...request.headers, [name]: value === undefined ? undefined : [value] };
  if (value === undefined) delete headers[name];
  return { ...request, headers };
}

const authorization = (request: IncomingSignedRequest) => request.headers.authorization?.[0] as string;

/** Why `request` is refused for `service`, or undefined when it is accepted. */
const verify = (request: IncomingSignedRequest, service = 'secretsmanager') =>
  verifier.verify(request, service);

const refusal = (code: SigV4Refusal['code'], message: string): SigV4Refusal => ({ code, message });

describe('SigV4Verifier', () => {
  it('accepts requests the AWS SDK signer signed with the local credentials', async () => {
    await expect(verify(await signed())).resolves.toBeUndefined();
    const iotCall: RequestToSign = {
      service: 'iot',
      method: 'GET',
      url: `http://${HOST}/authorizer/${encodeURIComponent('My Authorizer')}?a=1&b=x%2Fy&a=0`,
      signingDate: NOW,
    };
    await expect(verify(await signed(iotCall), 'iot')).resolves.toBeUndefined();
  });

  it('accepts a signing date up to five minutes either side of the clock', async () => {
    for (const offset of [-5 * 60_000, 5 * 60_000]) {
      const request = await signed({ ...GET_SECRET, signingDate: new Date(NOW.getTime() + offset) });
      await expect(verify(request)).resolves.toBeUndefined();
    }
  });

  it('accepts a declared x-amz-content-sha256 that is the hash of the body, and refuses any other', async () => {
    const hash = createHash('sha256')
      .update(GET_SECRET.body as string)
      .digest('hex');
    const declared = await signed({
      ...GET_SECRET,
      headers: { ...GET_SECRET.headers, 'x-amz-content-sha256': hash },
    });
    await expect(verify(declared)).resolves.toBeUndefined();
    // A client that signs a hash it declares and then sends another body is caught: AWS hashes the body.
    const lying = await signed({
      ...GET_SECRET,
      headers: { ...GET_SECRET.headers, 'x-amz-content-sha256': hash },
      body: '{"SecretId":"other"}',
    });
    await expect(verify(lying)).resolves.toEqual(refusal('InvalidSignatureException', MISMATCH));
  });

  it('refuses a request without Authorization as AWS does: MissingAuthenticationTokenException', async () => {
    const request = withHeader(await signed(), 'authorization', undefined);
    await expect(verify(request)).resolves.toEqual(
      refusal('MissingAuthenticationTokenException', 'Missing Authentication Token'),
    );
  });

  it('refuses an unknown access key or any session token: UnrecognizedClientException', async () => {
    const stranger = await signed(GET_SECRET, { credentials: generateLocalAwsCredentials(), region: REGION });
    const withToken = withHeader(await signed(), 'x-amz-security-token', 'IQoJb3JpZ2luX2VjE');
    for (const request of [stranger, withToken]) {
      await expect(verify(request)).resolves.toEqual(
        refusal('UnrecognizedClientException', 'The security token included in the request is invalid.'),
      );
    }
  });

  it('refuses the right key signed with another secret, a tampered body and a tampered signature', async () => {
    const wrongSecret = await signed(GET_SECRET, {
      credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: 'not-the-secret' },
      region: REGION,
    });
    const good = await signed();
    const tamperedBody = { ...good, body: Buffer.from(GET_SECRET.body?.replace('Device', 'Other') ?? '') };
    const header = authorization(good);
    const lastDigit = header.at(-1) === '0' ? '1' : '0';
    const tamperedSignature = withHeader(good, 'authorization', `${header.slice(0, -1)}${lastDigit}`);
    const notHex = withHeader(good, 'authorization', header.replace(/Signature=.*$/, 'Signature=zz'));
    for (const request of [wrongSecret, tamperedBody, tamperedSignature, notHex]) {
      await expect(verify(request)).resolves.toEqual(refusal('InvalidSignatureException', MISMATCH));
    }
  });

  it('refuses a signing date more than five minutes off the clock with the text AWS sends', async () => {
    const old = await signed({ ...GET_SECRET, signingDate: new Date(NOW.getTime() - 5 * 60_000 - 1000) });
    await expect(verify(old)).resolves.toEqual(
      refusal(
        'InvalidSignatureException',
        'Signature expired: 20240305T101529Z is now earlier than 20240305T101530Z (20240305T102030Z - 5 min.)',
      ),
    );
    const future = await signed({ ...GET_SECRET, signingDate: new Date(NOW.getTime() + 6 * 60_000) });
    await expect(verify(future)).resolves.toEqual(
      refusal(
        'InvalidSignatureException',
        'Signature not yet current: 20240305T102630Z is still later than 20240305T102530Z (20240305T102030Z + 5 min.)',
      ),
    );
  });

  it('refuses a credential scoped to another region, service or date', async () => {
    const otherRegion = await signed(GET_SECRET, { credentials, region: 'us-east-1' });
    await expect(verify(otherRegion)).resolves.toEqual(
      refusal('InvalidSignatureException', "Credential should be scoped to a valid region, not 'us-east-1'."),
    );
    await expect(verify(await signed(), 'iot')).resolves.toEqual(
      refusal('InvalidSignatureException', "Credential should be scoped to correct service: 'iot'."),
    );
    const good = await signed();
    const otherDay = withHeader(
      good,
      'authorization',
      authorization(good).replace('/20240305/', '/20240304/'),
    );
    await expect(verify(otherDay)).resolves.toEqual(
      refusal(
        'InvalidSignatureException',
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20240304' != '20240305', from '20240305T102030Z'.",
      ),
    );
  });

  it('refuses malformed Authorization and X-Amz-Date headers with IncompleteSignatureException', async () => {
    const good = await signed();
    const header = authorization(good);
    const cases: [IncomingSignedRequest, string][] = [
      [
        withHeader(good, 'authorization', 'Basic dXNlcjpwYXNz'),
        "Unsupported Authorization algorithm 'Basic': the local AWS API verifies AWS4-HMAC-SHA256 (Signature Version 4) only",
      ],
      [
        withHeader(withHeader(good, 'authorization', 'AWS4-HMAC-SHA256 Foo=bar'), 'x-amz-date', undefined),
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
      ],
      [
        withHeader(withHeader(good, 'x-amz-date', undefined), 'date', NOW.toUTCString()),
        "The local AWS API needs the 'X-Amz-Date' header (the AWS SDKs send it); a 'Date' header alone is not supported.",
      ],
      [
        withHeader(good, 'authorization', header.replace(/Credential=[^,]*/, 'Credential=KEY/20240305')),
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'KEY/20240305'",
      ],
      [
        withHeader(good, 'x-amz-date', '2024-03-05T10:20:30Z'),
        "X-Amz-Date must be in the ISO-8601 basic format yyyyMMdd'T'HHmmss'Z', got '2024-03-05T10:20:30Z'",
      ],
      [
        withHeader(good, 'x-amz-date', '20240230T102030Z'),
        "X-Amz-Date must be in the ISO-8601 basic format yyyyMMdd'T'HHmmss'Z', got '20240230T102030Z'",
      ],
      [
        withHeader(good, 'authorization', header.replace(/SignedHeaders=[^,]*/, 'SignedHeaders=x-amz-date')),
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
      ],
    ];
    for (const [request, message] of cases) {
      await expect(verify(request)).resolves.toEqual(refusal('IncompleteSignatureException', message));
    }
  });

  it('refuses a request whose signed header was not sent or has another value', async () => {
    const good = await signed();
    await expect(verify(withHeader(good, 'x-amz-target', undefined))).resolves.toEqual(
      refusal('InvalidSignatureException', MISMATCH),
    );
    await expect(verify(withHeader(good, 'x-amz-target', 'secretsmanager.DeleteSecret'))).resolves.toEqual(
      refusal('InvalidSignatureException', MISMATCH),
    );
  });

  describe('property: no single-byte change to a signed request is accepted', () => {
    const bodies = fc.json({ maxDepth: 2 }).filter((text) => text.length > 0);

    it('in the body', async () => {
      await fc.assert(
        fc.asyncProperty(bodies, fc.nat(), fc.integer({ min: 1, max: 255 }), async (body, at, delta) => {
          const request = await signed({ ...GET_SECRET, body });
          const bytes = Buffer.from(request.body);
          const index = at % bytes.length;
          bytes[index] = ((bytes[index] as number) + delta) % 256;
          expect(await verify({ ...request, body: bytes })).toMatchObject({
            code: 'InvalidSignatureException',
          });
        }),
        { numRuns: 200 },
      );
    });

    it('in a signed header value (other than an equivalent whitespace change)', async () => {
      const request = await signed();
      const names = ['host', 'content-type', 'x-amz-target', 'x-amz-date'];
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...names),
          fc.nat(),
          fc.integer({ min: 0x20, max: 0x7e }),
          async (name, at, code) => {
            const value = request.headers[name]?.[0] as string;
            const index = at % value.length;
            const changed = `${value.slice(0, index)}${String.fromCharCode(code)}${value.slice(index + 1)}`;
            // SigV4 canonicalizes values (trimmed, runs of spaces as one), so such a change is not a change.
            fc.pre(canonical(changed) !== canonical(value));
            expect(await verify(withHeader(request, name, changed))).toBeDefined();
          },
        ),
        { numRuns: 300 },
      );
    });

    it('in the signature', async () => {
      const request = await signed();
      const header = authorization(request);
      const start = header.indexOf('Signature=') + 'Signature='.length;
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: start, max: header.length - 1 }),
          fc.constantFrom(...'0123456789abcdef'),
          async (index, digit) => {
            fc.pre(digit !== header[index]);
            const changed = `${header.slice(0, index)}${digit}${header.slice(index + 1)}`;
            expect(await verify(withHeader(request, 'authorization', changed))).toEqual(
              refusal('InvalidSignatureException', MISMATCH),
            );
          },
        ),
        { numRuns: 200 },
      );
    });
  });
});

function canonical(value: string): string {
  return value.replace(/[ \t]+/g, ' ').trim();
}
