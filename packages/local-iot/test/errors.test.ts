import { DeploymentError, LocalIotError } from '../src/errors';

describe('local-iot errors', () => {
  it.each([
    [LocalIotError, 'LocalIotError'],
    [DeploymentError, 'DeploymentError'],
  ])('%p is a LocalIotError named after its class that keeps its cause', (ErrorClass, name) => {
    const cause = new Error('the root problem');
    const error = new ErrorClass('cdk.out is missing', { cause });
    expect(error).toBeInstanceOf(LocalIotError);
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error.name).toBe(name);
    expect(String(error)).toBe(`${name}: cdk.out is missing`);
    expect(error.cause).toBe(cause);
  });
});
