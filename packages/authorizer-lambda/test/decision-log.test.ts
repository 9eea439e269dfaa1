import { createDecisionLogger, type DecisionLogEntry, type LogTarget } from '../src';

function recordingTarget(): LogTarget & { calls: [string, unknown[]][] } {
  const calls: [string, unknown[]][] = [];
  return {
    calls,
    info: (...args: unknown[]) => calls.push(['info', args]),
    warn: (...args: unknown[]) => calls.push(['warn', args]),
    error: (...args: unknown[]) => calls.push(['error', args]),
  };
}

const allow: DecisionLogEntry = {
  decision: 'ALLOW',
  reason: 'PASSWORD_OK',
  mode: 'unsigned',
  clientId: 'test-1',
  connectionId: 'e56f08c3-c559-490f-aa9f-7e8427d0f57b',
  principalId: '0123456789abcdef0123456789abcdef',
  durationMs: 1.25,
};

describe('createDecisionLogger', () => {
  it('passes the entry as an object under the JSON log format (the runtime makes it the message)', () => {
    const target = recordingTarget();
    createDecisionLogger('json', target)(allow);
    expect(target.calls).toEqual([['info', [allow]]]);
  });

  it('writes one JSON line under the text log format', () => {
    const target = recordingTarget();
    createDecisionLogger('text', target)(allow);
    expect(target.calls).toEqual([
      [
        'info',
        [
          '{"decision":"ALLOW","reason":"PASSWORD_OK","mode":"unsigned","clientId":"test-1",' +
            '"connectionId":"e56f08c3-c559-490f-aa9f-7e8427d0f57b","principalId":"0123456789abcdef0123456789abcdef",' +
            '"durationMs":1.25}',
        ],
      ],
    ]);
  });

  it("logs a device's deny at WARN and a deny caused by the environment at ERROR", () => {
    const target = recordingTarget();
    const log = createDecisionLogger('json', target);
    const deny = { decision: 'DENY', principalId: 'denied', durationMs: 0.5 } as const;
    log({ ...deny, reason: 'BAD_PASSWORD', mode: 'unsigned' });
    log({ ...deny, reason: 'TOKEN_EXPIRED', mode: 'signed' });
    log({ ...deny, reason: 'SECRET_UNAVAILABLE', mode: 'unsigned', detail: 'timeout' });
    log({ ...deny, reason: 'INVALID_FUNCTION_ARN' });
    log({ ...deny, reason: 'INTERNAL_ERROR' });
    expect(target.calls.map(([level, [entry]]) => [level, (entry as DecisionLogEntry).reason])).toEqual([
      ['warn', 'BAD_PASSWORD'],
      ['warn', 'TOKEN_EXPIRED'],
      ['error', 'SECRET_UNAVAILABLE'],
      ['error', 'INVALID_FUNCTION_ARN'],
      ['error', 'INTERNAL_ERROR'],
    ]);
  });
});
