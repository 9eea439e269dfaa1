import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { topicArn } from '@iot-custom-auth/protocol';
import { useBehavioursStack } from '../support/behaviours-stack';

// HTTPS publish through the custom authorizer, as a device does it with any HTTP client: Node's own https
// module (not local-iot code) POSTs to /topics/<topic>?qos=1 on the gateway's TLS port with the authorizer
// name in a header, and `mqtt` from npm subscribes to see what arrives. The fixture authorizer returns the
// documents sent in the x-fixture-policies header; EnableCachingForHttp is on for this authorizer.

const { served, names, withPolicies } = useBehavioursStack('HttpsEndToEnd', {
  demo: { unsignedCachingForHttp: true },
});
const { unsignedAuthorizer: AUTHORIZER, authorizerFunction: FUNCTION } = names;
const ARN = { region: 'us-east-1', account: '000000000000' };

const OPEN = [
  {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['iot:Publish', 'iot:Subscribe', 'iot:Receive'], Resource: '*' }],
  },
];
const PUBLISH_SENSORS = [
  {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 'iot:Publish', Resource: topicArn(ARN, 'sensors/*') }],
  },
];

interface Answer {
  readonly status: number;
  readonly body: { readonly message?: string; readonly traceId?: string };
}

/** One HTTPS request to the gateway, as an HTTP client on a device sends it. */
function post(path: string, payload: Buffer | string, headers: Record<string, string>, agent?: Agent) {
  const { connection } = served.local;
  return new Promise<Answer>((resolve, reject) => {
    const req = request(
      {
        host: connection.endpoint,
        port: connection.port,
        servername: connection.endpoint,
        ca: readFileSync(connection.caFile),
        method: 'POST',
        path,
        headers: { 'content-type': 'application/octet-stream', ...headers },
        ...(agent ? { agent } : {}),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            body: jsonBody(Buffer.concat(chunks).toString('utf8')),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** AWS IoT answers HTTPS publish in JSON; other paths get the gateway's plain-text usage. */
function jsonBody(text: string): Answer['body'] {
  try {
    return JSON.parse(text) as Answer['body'];
  } catch {
    return { message: text };
  }
}

const authorized = (policies: readonly object[]) => ({
  'x-amz-customauthorizer-name': AUTHORIZER,
  'x-fixture-behaviour': 'policies-from-request',
  'x-fixture-policies': JSON.stringify(policies),
});

async function subscriber(clientId: string, filter: string) {
  const client = await served.connect(clientId, withPolicies(OPEN));
  expect(await client.subscribe({ [filter]: { qos: 1 } })).toEqual([1]);
  return client;
}

describe('HTTPS publish through the custom authorizer, end to end', () => {
  it('delivers a POST /topics/<topic>?qos=1 the policy allows to an MQTT subscriber', async () => {
    const client = await subscriber('test-https-sub', 'sensors/#');
    const answer = await post(
      '/topics/sensors%2Fkitchen?qos=1',
      'hello over https',
      authorized(PUBLISH_SENSORS),
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ message: 'OK', traceId: expect.any(String) as unknown });
    const message = await client.nextMessage();
    expect(message).toMatchObject({ topic: 'sensors/kitchen', qos: 1 });
    expect(message.payload.toString()).toBe('hello over https');
    expect(served.log.matching('https-publish', { topic: 'sensors/kitchen' })).toMatchObject([
      { method: 'POST', qos: 1, authorizer: AUTHORIZER, lambdaInvoked: true, decision: 'allow', status: 200 },
    ]);
  });

  it('refuses a topic outside the policy with 403 Forbidden and delivers nothing', async () => {
    const client = await subscriber('test-https-none', '#');
    const answer = await post('/topics/admin/reboot?qos=1', 'x', authorized(PUBLISH_SENSORS));
    expect(answer).toEqual({
      status: 403,
      body: { message: 'Forbidden', traceId: expect.any(String) as unknown },
    });
    const [line] = served.log.matching('https-publish', { topic: 'admin/reboot' });
    expect(line).toMatchObject({ decision: 'deny', status: 403 });
    expect(line?.reason).toMatch(
      /^policy has no Allow for iot:Publish on arn:aws:iot:us-east-1:000000000000:topic\/admin\/reboot/,
    );
    expect(client.pending).toEqual([]);
  });

  it('refuses with 403 when the authorizer does not authenticate, and 404 for another path', async () => {
    const denied = await post('/topics/sensors/a', 'x', {
      'x-amz-customauthorizer-name': AUTHORIZER,
      'x-fixture-behaviour': 'deny',
    });
    expect(denied.status).toBe(403);
    expect(served.log.matching('https-publish', { topic: 'sensors/a' })).toMatchObject([
      { decision: 'deny', status: 403, reason: `authorizer '${AUTHORIZER}' returned isAuthenticated: false` },
    ]);
    expect((await post('/things/x', 'x', authorized(OPEN))).status).toBe(404);
  });

  it('takes exactly 128 KiB of payload and refuses one byte more with 413', async () => {
    const client = await subscriber('test-https-size', 'sensors/size');
    const limit = 128 * 1024;
    const headers = authorized(PUBLISH_SENSORS);
    expect((await post('/topics/sensors/size?qos=1', Buffer.alloc(limit, 1), headers)).status).toBe(200);
    expect((await client.nextMessage()).payload.length).toBe(limit);
    expect((await post('/topics/sensors/size?qos=1', Buffer.alloc(limit + 1, 1), headers)).status).toBe(413);
  });

  it('reuses the authorization on one keep-alive connection under EnableCachingForHttp', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = served.runtime.invocationCount(FUNCTION);
      const headers = authorized(PUBLISH_SENSORS);
      expect((await post('/topics/sensors/c1', 'a', headers, agent)).status).toBe(200);
      expect((await post('/topics/sensors/c2', 'b', headers, agent)).status).toBe(200);
      expect(served.runtime.invocationCount(FUNCTION)).toBe(before + 1);
      expect(served.log.matching('https-publish', { topic: 'sensors/c2' })).toMatchObject([
        { cached: true, lambdaInvoked: false, status: 200 },
      ]);
      // Another connection is authorized anew.
      expect((await post('/topics/sensors/c3', 'c', headers)).status).toBe(200);
      expect(served.runtime.invocationCount(FUNCTION)).toBe(before + 2);
    } finally {
      agent.destroy();
    }
  });
});
