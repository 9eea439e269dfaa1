import { DEFAULT_CONCURRENCY_LIMIT } from '../src/lambda/lambda-runner';
import { closestFlag, LOCAL_IOT_FLAGS, parseLocalIotArgs, UsageError, USAGE } from '../src/cli-args';

describe('parseLocalIotArgs --lambda-concurrency', () => {
  it('defaults to the runner default and takes a whole number', () => {
    expect(parseLocalIotArgs([]).lambdaConcurrency).toBe(DEFAULT_CONCURRENCY_LIMIT);
    expect(parseLocalIotArgs(['--lambda-concurrency', '3']).lambdaConcurrency).toBe(3);
    expect(USAGE).toContain('--lambda-concurrency N');
  });

  it.each(['0', '1001', '2.5', 'many', ''])('refuses %j, naming the flag and what it takes', (text) => {
    expect(() => parseLocalIotArgs(['--lambda-concurrency', text])).toThrow(
      new UsageError(`--lambda-concurrency must be a whole number from 1 to 1000, but '${text}' was given`),
    );
  });
});

describe('parseLocalIotArgs watch, synth, context and time scale', () => {
  it('--watch implies a synth and takes repeated -c KEY=VALUE in order', () => {
    const config = parseLocalIotArgs(['--watch', '-c', 'clientIdPrefix=dev-', '--context', 'a=b=c']);
    expect(config).toMatchObject({ watch: true, synth: true, context: ['clientIdPrefix=dev-', 'a=b=c'] });
    expect(parseLocalIotArgs([])).toMatchObject({ watch: false, synth: false, context: [], timeScale: 1 });
  });

  it.each(['clientIdPrefix', '=dev-', ''])('refuses -c %j, naming the KEY=VALUE form', (pair) => {
    expect(() => parseLocalIotArgs(['--synth', '-c', pair])).toThrow(
      new UsageError(
        `-c takes KEY=VALUE (as cdk synth -c), e.g. -c clientIdPrefix=dev-, but '${pair}' was given`,
      ),
    );
  });

  it('takes --time-scale as a whole factor and refuses anything else', () => {
    expect(parseLocalIotArgs(['--time-scale', '60']).timeScale).toBe(60);
    expect(() => parseLocalIotArgs(['--time-scale', '0.5'])).toThrow(
      new UsageError("--time-scale must be a whole number from 1 to 100000, but '0.5' was given"),
    );
  });

  it('answers --help before looking at anything else on the line', () => {
    expect(parseLocalIotArgs(['--port', 'x', '--nope', '-h']).help).toBe(true);
  });
});

describe('closestFlag', () => {
  it('suggests a flag one or two edits away, a swap of neighbours being one', () => {
    expect(closestFlag('--wacth', LOCAL_IOT_FLAGS)).toBe('--watch');
    expect(closestFlag('--prot', LOCAL_IOT_FLAGS)).toBe('--port');
    expect(closestFlag('--stat-dir', LOCAL_IOT_FLAGS)).toBe('--state-dir');
    expect(closestFlag('--frobnicate', LOCAL_IOT_FLAGS)).toBeUndefined();
  });
});

describe('parseLocalIotArgs --x509-port and --x509-endpoint-host', () => {
  it('defaults to a free port and the endpoint host, and takes a port and a name', () => {
    expect(parseLocalIotArgs([])).toMatchObject({ x509Port: 0 });
    expect(parseLocalIotArgs([]).x509EndpointHost).toBeUndefined();
    expect(
      parseLocalIotArgs(['--x509-port', '8883', '--x509-endpoint-host', 'mtls.localhost']),
    ).toMatchObject({ x509Port: 8883, x509EndpointHost: 'mtls.localhost' });
    expect(USAGE).toContain('--x509-port N');
    expect(USAGE).toContain('--x509-endpoint-host HOST');
  });

  it('refuses a port out of range and an empty name, naming the flag', () => {
    expect(() => parseLocalIotArgs(['--x509-port', '65536'])).toThrow(
      new UsageError("--x509-port must be a whole number from 0 to 65535, but '65536' was given"),
    );
    expect(() => parseLocalIotArgs(['--x509-endpoint-host', ''])).toThrow(
      new UsageError('--x509-endpoint-host must not be empty'),
    );
  });
});
