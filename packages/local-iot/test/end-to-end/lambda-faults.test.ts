import { join } from 'node:path';
import { buildCustomAuthUsername } from '@iot-custom-auth/protocol';
import type { CfnResource, CfnTemplate } from '../../src/deployment/intrinsics';
import type { InvocationTelemetry } from '../../src/lambda/lambda-runner';
import { demoStackNames, demoTemplate, FUNCTIONS_DIR, rsaKeyPair, writeAssembly } from '../fixtures/assembly';
import { useLocalIot } from '../support/local-iot-harness';
import { withTimeout } from '../support/wait';

// Every way an authorizer Lambda can fail, end to end through the gateway with `mqtt` from npm: each fault
// refuses its own connect with its reason while devices keep connecting through another function at the
// same time, and the gateway stays up. Each function's environments are processes of their own.

const STACK = 'LambdaFaults';
const { unsignedAuthorizer: FAULTY, authorizerFunction: FAULTY_FUNCTION } = demoStackNames(STACK);
const HEALTHY = `${STACK}-healthy`;
const HEALTHY_FUNCTION = `${STACK}-HealthyFunction`;
const RESERVED = `${STACK}-reserved`;
const RESERVED_FUNCTION = `${STACK}-ReservedFunction`;
const UUID = '[0-9a-f-]{36}';

/** The demo stack (its authorizer function: 128 MB, 2 s) plus two functions, each behind its own authorizer. */
function faultsTemplate(): CfnTemplate {
  const template = demoTemplate({
    asset: 'authorizer',
    publicKeyPem: rsaKeyPair().publicKey,
    timeoutSeconds: 2,
  });
  const resources = template.Resources as Record<string, CfnResource>;
  const withProperties = (resource: CfnResource, properties: Record<string, unknown>): CfnResource => ({
    ...resource,
    Properties: { ...resource.Properties, ...properties },
  });
  const fn = resources.AuthorizerFunction as CfnResource;
  const authorizer = resources.UnsignedAuthorizer as CfnResource;
  const permission = resources.UnsignedAuthorizerInvokePermission as CfnResource;
  const behind = (functionId: string, name: string): Record<string, CfnResource> => ({
    [`${functionId}Authorizer`]: withProperties(authorizer, {
      AuthorizerFunctionArn: { 'Fn::GetAtt': [functionId, 'Arn'] },
      AuthorizerName: name,
    }),
    [`${functionId}Permission`]: withProperties(permission, {
      FunctionName: { 'Fn::GetAtt': [functionId, 'Arn'] },
      SourceArn: { 'Fn::GetAtt': [`${functionId}Authorizer`, 'Arn'] },
    }),
  });
  return {
    ...template,
    Resources: {
      ...resources,
      // Small, so that running out of memory is quick.
      AuthorizerFunction: withProperties(fn, { MemorySize: 128 }),
      HealthyFunction: withProperties(fn, { Timeout: 4 }),
      ...behind('HealthyFunction', HEALTHY),
      ReservedFunction: withProperties(fn, { ReservedConcurrentExecutions: 1 }),
      ...behind('ReservedFunction', RESERVED),
    },
  };
}

const served = useLocalIot({
  assembly: (dir) =>
    writeAssembly(join(dir, 'cdk.out'), STACK, faultsTemplate(), {
      authorizer: join(FUNCTIONS_DIR, 'behaviours'),
    }),
});

/** Every invocation's START, and the OS process of the environment that ran it. */
const starts: (Extract<InvocationTelemetry, { type: 'platform.start' }> & { pid: number | undefined })[] = [];
const startWaiters: (() => void)[] = [];

beforeAll(() => {
  const { runner } = served.runtime;
  runner.onTelemetry((event) => {
    if (event.type !== 'platform.start') return;
    const environment = runner.environments(event.functionName).find((e) => e.id === event.environmentId);
    starts.push({ ...event, pid: environment?.pid });
    for (const waiter of startWaiters.splice(0)) waiter();
  });
});

/** Resolves once `functionName` has had `count` more invocation STARTs than it had when this was called. */
function nextStarts(functionName: string, count = 1): Promise<string[]> {
  const before = starts.filter((start) => start.functionName === functionName).length;
  return withTimeout(
    new Promise<string[]>((resolve) => {
      const check = (): void => {
        const mine = starts.filter((start) => start.functionName === functionName).slice(before);
        if (mine.length >= count) resolve(mine.map((start) => start.requestId));
        else startWaiters.push(check);
      };
      check();
    }),
    `${count} START of ${functionName}`,
  );
}

function environmentOf(requestId: string): string | undefined {
  return starts.find((start) => start.requestId === requestId)?.environmentId;
}

/** Client options for a device through `authorizer`, whose fixture behaviour is `behaviour`. */
function through(authorizer: string, behaviour: string): { username: string; password: string } {
  return {
    username: buildCustomAuthUsername({ user: behaviour, authorizerName: authorizer }),
    password: 'secret',
  };
}

/** The function log's lines of one invocation of `functionName`, without the `[function]` prefix. */
function functionLines(functionName: string, requestId: string): string[] {
  const prefix = `[${functionName}] `;
  return served.functionLog
    .filter((line) => line.startsWith(prefix) && line.includes(requestId))
    .map((line) => line.slice(prefix.length));
}

async function decision(clientId: string): Promise<Record<string, unknown>> {
  return (await served.log.waitFor('connect', { clientId })) as unknown as Record<string, unknown>;
}

const HEALTHY_PER_FAULT = 3;

describe('authorizer Lambda faults, end to end', () => {
  it.each([
    [
      'throw',
      `authorizer Lambda ${FAULTY_FUNCTION} failed: Error: fixture failure`,
      /^[0-9a-f-]{36} ERROR Invoke Error \t\{"errorType":"Error","errorMessage":"fixture failure","stack":\[/,
    ],
    [
      'hang',
      `authorizer Lambda ${FAULTY_FUNCTION} did not answer in time: Task timed out after 2.00 seconds (AWS IoT allows 5000 ms)`,
      /^[0-9a-f-]{36} Task timed out after 2\.00 seconds$/,
    ],
    [
      'spin',
      `authorizer Lambda ${FAULTY_FUNCTION} did not answer in time: Task timed out after 2.00 seconds (AWS IoT allows 5000 ms)`,
      /^[0-9a-f-]{36} Task timed out after 2\.00 seconds$/,
    ],
    [
      'bad-principal',
      "invalid authorizer response: principalId 'a-b' does not match ^[a-zA-Z0-9]{1,128}$",
      /^REPORT RequestId: [0-9a-f-]{36}\tDuration: /,
    ],
    [
      'exit',
      new RegExp(
        `^authorizer Lambda ${FAULTY_FUNCTION} crashed: Runtime\\.ExitError: RequestId: ${UUID} Error: Runtime exited with error: exit status 3$`,
      ),
      /^RequestId: [0-9a-f-]{36} Error: Runtime exited with error: exit status 3$/,
    ],
    [
      'sigkill',
      new RegExp(
        `^authorizer Lambda ${FAULTY_FUNCTION} crashed: Runtime\\.ExitError: RequestId: ${UUID} Error: Runtime exited with error: signal: killed$`,
      ),
      /^RequestId: [0-9a-f-]{36} Error: Runtime exited with error: signal: killed$/,
    ],
    [
      'out-of-memory',
      new RegExp(
        `^authorizer Lambda ${FAULTY_FUNCTION} crashed: Runtime\\.OutOfMemory: RequestId: ${UUID} Error: Runtime exited with error: signal: aborted$`,
      ),
      /\tMemory Size: 128 MB\tMax Memory Used: 128 MB\t.*Status: error\tError Type: Runtime\.OutOfMemory$/,
    ],
  ])(
    'refuses the connect whose Lambda does %s with its reason, while devices connect through another function',
    async (behaviour, reason, logged) => {
      const clientId = `test-fault-${behaviour}`;
      const faultStarted = nextStarts(FAULTY_FUNCTION);
      const fault = served.connackCode(clientId, through(FAULTY, behaviour));
      const [faultRequest] = await faultStarted;
      // While the fault runs (or just ran), devices keep connecting through the healthy function.
      const healthy = await Promise.all(
        Array.from({ length: HEALTHY_PER_FAULT }, (_, i) =>
          served.connackCode(`test-healthy-${behaviour}-${i}`, through(HEALTHY, 'allow')),
        ),
      );
      expect(healthy).toEqual(Array.from({ length: HEALTHY_PER_FAULT }, () => 0x00));
      expect(await fault).toBe(0x87);
      const refused = await decision(clientId);
      expect(refused).toMatchObject({
        decision: 'deny',
        reasonCode: '0x87',
        lambdaInvoked: true,
        authorizer: FAULTY,
      });
      expect(refused.reason).toEqual(typeof reason === 'string' ? reason : expect.stringMatching(reason));
      // The function's own log tells the fault, as Lambda's would.
      const lines = functionLines(FAULTY_FUNCTION, faultRequest as string);
      expect(lines[0]).toBe(`START RequestId: ${faultRequest} Version: $LATEST`);
      expect(lines).toContainEqual(expect.stringMatching(logged));
      expect(lines).toContain(`END RequestId: ${faultRequest}`);
    },
  );

  it('keeps connecting the healthy client ids of a function that hangs for some ids, on other environments', async () => {
    const hangIds = ['test-hang-1', 'test-hang-2', 'test-hang-3'];
    const okIds = ['test-some-ok-1', 'test-some-ok-2', 'test-some-ok-3', 'test-some-ok-4'];
    const hangingStarted = nextStarts(FAULTY_FUNCTION, hangIds.length);
    const hanging = hangIds.map((id) => served.connackCode(id, through(FAULTY, 'hang-for-some')));
    const hangRequests = await hangingStarted;
    // All three hang, each in an environment of its own; the healthy ids connect one after the other.
    const okStarted = nextStarts(FAULTY_FUNCTION, okIds.length);
    const codes: number[] = [];
    for (const id of okIds) codes.push(await served.connackCode(id, through(FAULTY, 'hang-for-some')));
    const okRequests = await okStarted;
    expect(codes).toEqual([0x00, 0x00, 0x00, 0x00]);
    // The healthy ids did not wait for the hanging ones: none of those is decided yet.
    expect(hangIds.flatMap((id) => served.log.matching('connect', { clientId: id }))).toEqual([]);
    const hangEnvironments = new Set(hangRequests.map(environmentOf));
    const okEnvironments = new Set(okRequests.map(environmentOf));
    expect(hangEnvironments.size).toBe(3);
    expect(okEnvironments.size).toBe(1);
    expect([...okEnvironments].filter((id) => hangEnvironments.has(id))).toEqual([]);
    expect(served.runtime.runner.environmentCount(FAULTY_FUNCTION)).toBe(4);
    expect(await Promise.all(hanging)).toEqual([0x87, 0x87, 0x87]);
    for (const id of hangIds) {
      expect((await decision(id)).reason).toBe(
        `authorizer Lambda ${FAULTY_FUNCTION} did not answer in time: Task timed out after 2.00 seconds (AWS IoT allows 5000 ms)`,
      );
    }
  });

  it('refuses a connect as throttled when every environment its function may have is busy', async () => {
    const busyStarted = nextStarts(RESERVED_FUNCTION);
    const busy = served.connackCode('test-reserved-busy', through(RESERVED, 'hang'));
    await busyStarted;
    expect(await served.connackCode('test-reserved-throttled', through(RESERVED, 'allow'))).toBe(0x87);
    expect(await decision('test-reserved-throttled')).toMatchObject({
      decision: 'deny',
      lambdaInvoked: false,
      reason: `authorizer Lambda ${RESERVED_FUNCTION} was throttled: TooManyRequestsException: Rate Exceeded. (ReservedFunctionConcurrentInvocationLimitExceeded: all 1 of its execution environments are busy)`,
    });
    expect(served.runtime.runner.throttleCount(RESERVED_FUNCTION)).toBe(1);
    expect(await busy).toBe(0x87);
    // Its one environment timed out and was ended; the next connect gets a fresh one.
    expect(await served.connackCode('test-reserved-after', through(RESERVED, 'allow'))).toBe(0x00);
  });

  it('stays up after all of it, and leaves no environment process behind when closed', async () => {
    expect(await served.connackCode('test-after-faults', through(FAULTY, 'allow'))).toBe(0x00);
    expect(await served.connackCode('test-after-faults-healthy', through(HEALTHY, 'allow'))).toBe(0x00);
    expect(served.log.matching('error')).toEqual([]);
    // The healthy function served every one of its devices, none throttled.
    expect(served.runtime.runner.throttleCount(HEALTHY_FUNCTION)).toBe(0);
    expect(served.runtime.runner.invocationCount(HEALTHY_FUNCTION)).toBe(7 * HEALTHY_PER_FAULT + 1);
    const pids = [...new Set(starts.map((start) => start.pid))];
    expect(pids.length).toBeGreaterThan(10);
    expect(pids.every((pid) => typeof pid === 'number')).toBe(true);
    served.endClients();
    await served.local.close();
    const alive = pids.filter((pid) => {
      try {
        process.kill(pid as number, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
  });
});
