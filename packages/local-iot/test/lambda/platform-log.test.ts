import { join } from 'node:path';
import type { LocalFunction } from '../../src/deployment/local-deployment';
import { billedDurationMs, type InvocationReport, PlatformLog } from '../../src/lambda/platform-log';

const ID = '6d68ca91-49c9-448d-89b8-7ca3e6dc66aa';

function fn(logFormat: 'Text' | 'JSON'): LocalFunction {
  return {
    logicalId: 'Fn',
    name: 'fn',
    arn: 'arn:aws:lambda:us-east-1:000000000000:function:fn',
    codeDirectory: join('/tmp', 'fn'),
    handler: 'index.handler',
    runtime: 'nodejs20.x',
    timeoutSeconds: 3,
    memorySizeMb: 128,
    environment: {},
    logFormat,
    logGroupName: '/aws/lambda/fn',
  };
}

const cold: InvocationReport = {
  requestId: ID,
  durationMs: 693.923,
  initDurationMs: 397.6789,
  maxMemoryUsedMb: 84,
  status: 'success',
  platformFailure: false,
};

const timedOut: InvocationReport = {
  requestId: ID,
  durationMs: 3000.4,
  maxMemoryUsedMb: 90,
  status: 'timeout',
  platformFailure: true,
};

const exited: InvocationReport = {
  requestId: ID,
  durationMs: 12.5,
  maxMemoryUsedMb: 128,
  status: 'error',
  errorType: 'Runtime.OutOfMemory',
  platformFailure: true,
};

describe('PlatformLog in Text', () => {
  const log = new PlatformLog(fn('Text'));

  it('writes START, END and a tab-separated REPORT with the Init Duration of a cold start', () => {
    expect(log.start(ID)).toEqual([`START RequestId: ${ID} Version: $LATEST`]);
    expect(log.end(cold)).toEqual([
      `END RequestId: ${ID}`,
      `REPORT RequestId: ${ID}\tDuration: 693.92 ms\tBilled Duration: 1092 ms\tMemory Size: 128 MB\tMax Memory Used: 84 MB\tInit Duration: 397.68 ms`,
    ]);
  });

  it('writes a timeout line and the Status of a timed-out invocation', () => {
    expect(log.timedOut(ID, 3)).toEqual([`${ID} Task timed out after 3.00 seconds`]);
    expect(log.end(timedOut)[1]).toBe(
      `REPORT RequestId: ${ID}\tDuration: 3000.40 ms\tBilled Duration: 3001 ms\tMemory Size: 128 MB\tMax Memory Used: 90 MB\tStatus: timeout`,
    );
  });

  it('writes the runtime exit lines and the Status and Error Type of a runtime failure', () => {
    expect(log.runtimeExited(ID, 'signal: aborted', 'Runtime.OutOfMemory')).toEqual([
      `RequestId: ${ID} Error: Runtime exited with error: signal: aborted`,
      'Runtime.OutOfMemory',
    ]);
    expect(log.end(exited)[1]).toBe(
      `REPORT RequestId: ${ID}\tDuration: 12.50 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory`,
    );
  });

  it("leaves a handler's own error out of the REPORT, as the runtime's error record tells it", () => {
    expect(log.end({ ...cold, status: 'error', errorType: 'Error' })[1]).not.toMatch(/Status|Error Type/);
  });
});

describe('PlatformLog in JSON', () => {
  const log = new PlatformLog(fn('JSON'));
  const parse = (lines: readonly string[]): unknown[] => lines.map((line) => JSON.parse(line) as unknown);
  const time = expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/) as unknown;

  it('writes platform.start and platform.report records, and no END', () => {
    expect(parse(log.start(ID))).toEqual([
      {
        time,
        type: 'platform.start',
        record: {
          requestId: ID,
          functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fn',
          version: '$LATEST',
        },
      },
    ]);
    expect(parse(log.end(cold))).toEqual([
      {
        time,
        type: 'platform.report',
        record: {
          requestId: ID,
          metrics: {
            durationMs: 693.923,
            billedDurationMs: 1092,
            memorySizeMB: 128,
            maxMemoryUsedMB: 84,
            initDurationMs: 397.679,
          },
          status: 'success',
        },
      },
    ]);
  });

  it("tells a timeout and a runtime failure by the report's status and error type only", () => {
    expect(log.timedOut(ID, 3)).toEqual([]);
    expect(log.runtimeExited(ID, 'exit status 3', 'Runtime.ExitError')).toEqual([]);
    expect(parse(log.end(timedOut))).toMatchObject([{ record: { status: 'timeout' } }]);
    expect(parse(log.end(exited))).toMatchObject([
      { record: { status: 'error', errorType: 'Runtime.OutOfMemory' } },
    ]);
  });
});

describe('billedDurationMs', () => {
  it('bills the invocation and the Init of a cold start, rounded up to the millisecond', () => {
    expect(billedDurationMs({ durationMs: 1233.96, initDurationMs: 463.512 })).toBe(1698);
    expect(billedDurationMs({ durationMs: 0.2 })).toBe(1);
  });
});
