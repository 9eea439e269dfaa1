import { effectiveKeepAlive } from '../../src/gateway/aws-iot-mqtt-limits';

describe('effectiveKeepAlive', () => {
  it.each([
    [0, 1200],
    [1, 30],
    [29, 30],
    [30, 30],
    [1200, 1200],
    [1201, 1200],
    [65535, 1200],
  ])('turns %i into %i', (requested, effective) => {
    expect(effectiveKeepAlive(requested)).toBe(effective);
  });
});
