import { LoopbackListener } from '../../src/aws-api/loopback-listener';
import { LocalIotError } from '../../src/errors';

describe('LoopbackListener', () => {
  it('knows its URL once bound, before anything serves it, then hands requests to the one handler', async () => {
    const listener = await LoopbackListener.bind();
    try {
      expect(listener.url).toBe(`http://127.0.0.1:${listener.port}`);
      const early = await fetch(`${listener.url}/x`);
      expect([early.status, await early.json()]).toEqual([
        503,
        { message: 'nothing serves this local-iot listener yet' },
      ]);
      listener.serve((request, response) => response.end(`served ${request.url ?? ''}`));
      expect(await (await fetch(`${listener.url}/y`)).text()).toBe('served /y');
      expect(() => listener.serve(() => undefined)).toThrow(
        new LocalIotError(
          `the listener on ${listener.url} is already served; bind another LoopbackListener for a second server`,
        ),
      );
    } finally {
      await listener.close();
      await listener.close();
    }
    await expect(fetch(listener.url)).rejects.toThrow();
  });

  it('refuses a port that is already bound', async () => {
    const listener = await LoopbackListener.bind();
    try {
      await expect(LoopbackListener.bind({ port: listener.port })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await listener.close();
    }
  });
});
