import { ProtocolError } from '../src/errors';

describe('ProtocolError', () => {
  it('is an Error named ProtocolError that keeps its cause', () => {
    const cause = new Error('the root problem');
    const error = new ProtocolError('the token is malformed', { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ProtocolError');
    expect(String(error)).toBe('ProtocolError: the token is malformed');
    expect(error.cause).toBe(cause);
  });
});
