import { InfraError } from '../src/errors';

describe('InfraError', () => {
  it('is an Error named InfraError that keeps its cause', () => {
    const cause = new Error('the root problem');
    const error = new InfraError('the signing key is unreadable', { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('InfraError');
    expect(String(error)).toBe('InfraError: the signing key is unreadable');
    expect(error.cause).toBe(cause);
  });
});
