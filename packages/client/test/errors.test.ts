import { ClientError, ConfigError, ConnectionFailedError, RuntimeError, UsageError } from '../src/errors';

describe('client errors', () => {
  it.each([
    [ClientError, 'ClientError'],
    [UsageError, 'UsageError'],
    [ConfigError, 'ConfigError'],
    [RuntimeError, 'RuntimeError'],
    [ConnectionFailedError, 'ConnectionFailedError'],
  ])('%p is a ClientError named after its class that keeps its cause', (ErrorClass, name) => {
    const cause = new Error('the root problem');
    const error = new ErrorClass('--endpoint is missing', { cause });
    expect(error).toBeInstanceOf(ClientError);
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error.name).toBe(name);
    expect(String(error)).toBe(`${name}: --endpoint is missing`);
    expect(error.cause).toBe(cause);
  });

  it('tells the subclasses apart, as cli.ts does to choose the exit code', () => {
    expect(new UsageError('x')).not.toBeInstanceOf(ConfigError);
    expect(new RuntimeError('x')).not.toBeInstanceOf(ConnectionFailedError);
  });
});
