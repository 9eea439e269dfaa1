import { Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { physicalName } from '../src';
import { newApp } from './helpers';

const AUTHORIZER_NAME = { maxLength: 128, allowedChars: '\\w=,@-' };

describe('physicalName', () => {
  it('joins the stack name and the construct path inside the stack', () => {
    const stack = new Stack(newApp(), 'Id', { stackName: 'Named' });
    const inner = new Construct(new Construct(stack, 'Outer'), 'Inner');
    expect(physicalName(stack, 'Policy', AUTHORIZER_NAME)).toBe('Named-Policy');
    expect(physicalName(inner, 'Authorizer', AUTHORIZER_NAME)).toBe('Named-Outer-Inner-Authorizer');
  });

  it('replaces characters the service does not accept', () => {
    const stack = new Stack(newApp(), 'S');
    expect(physicalName(new Construct(stack, 'a.b c'), 'x+y', AUTHORIZER_NAME)).toBe('S-a-b-c-x-y');
    expect(
      physicalName(new Construct(stack, 'a.b'), 'x+y', { maxLength: 128, allowedChars: '\\w+=,.@-' }),
    ).toBe('S-a.b-x+y');
  });

  it('shortens a long name to the limit with a hash that keeps it unique', () => {
    const stack = new Stack(newApp(), `S${'x'.repeat(130)}`);
    const a = physicalName(stack, 'A', AUTHORIZER_NAME);
    const b = physicalName(stack, 'B', AUTHORIZER_NAME);
    expect(a).toHaveLength(128);
    expect(b).toHaveLength(128);
    expect(a.slice(0, 119)).toBe(b.slice(0, 119));
    expect(a).not.toBe(b);
    expect(a).toMatch(/^Sx{118}-[0-9A-F]{8}$/);
    // Deterministic: the same construct path always gives the same name.
    expect(physicalName(new Stack(newApp(), `S${'x'.repeat(130)}`), 'A', AUTHORIZER_NAME)).toBe(a);
  });
});
