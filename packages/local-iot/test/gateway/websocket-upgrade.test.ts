import fc from 'fast-check';
import { hostHeaderProblem } from '../../src/gateway/websocket-upgrade';

// The Host header of a WebSocket upgrade that came without SNI is untrusted input: whatever it holds, the
// check answers (never throws), and lets through exactly the endpoint's name, with or without a port.

describe('hostHeaderProblem', () => {
  it('accepts the endpoint, in any case, with or without a port', () => {
    expect(hostHeaderProblem('localhost', 'localhost')).toBeUndefined();
    expect(hostHeaderProblem('LocalHost:8443', 'localhost')).toBeUndefined();
  });

  it('says what to send for another host, a malformed header or none', () => {
    expect(hostHeaderProblem('elsewhere.example:443', 'localhost')).toBe(
      "the client sent no SNI and the Host header 'elsewhere.example:443', which does not name the endpoint 'localhost': connect to 'localhost' by name (SNI), or send Host: localhost",
    );
    expect(hostHeaderProblem(undefined, 'localhost')).toBe(
      "the client sent no SNI and no Host header, which does not name the endpoint 'localhost': connect to 'localhost' by name (SNI), or send Host: localhost",
    );
    expect(hostHeaderProblem('localhost:notaport', 'localhost')).toMatch(/does not name the endpoint/);
    expect(hostHeaderProblem('localhost/evil', 'localhost')).toMatch(/does not name the endpoint/);
    expect(hostHeaderProblem('user@localhost', 'localhost')).toMatch(/does not name the endpoint/);
  });

  it('property: never throws, and accepts a header only when its host is the endpoint', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.webUrl(), fc.domain(), fc.constant('localhost')), (header) => {
        const problem = hostHeaderProblem(header, 'localhost');
        if (problem === undefined) expect(header.toLowerCase()).toMatch(/^localhost(:\d*)?$/);
        else expect(problem).toContain('connect to');
      }),
      { numRuns: 1000 },
    );
  });
});
