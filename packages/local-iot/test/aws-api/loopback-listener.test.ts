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

  it('is handed from one server to the next by release, on the same URL (watch mode swaps the deployment)', async () => {
    const listener = await LoopbackListener.bind();
    try {
      const first = (_request: unknown, response: { end(text: string): void }) => response.end('first');
      listener.serve(first);
      expect(listener.release()).toBe(first);
      listener.serve((_request, response) => response.end('second'));
      expect(await (await fetch(listener.url)).text()).toBe('second');
      listener.release();
      expect(listener.release()).toBeUndefined();
      expect((await fetch(listener.url)).status).toBe(503);
    } finally {
      await listener.close();
    }
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
