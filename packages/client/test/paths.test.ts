import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveInvocationPaths } from '../src/paths';

describe('resolveInvocationPaths', () => {
  let root: string;
  beforeEach(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'client-paths-')));
    writeFileSync(
      join(root, 'package.json'),
      JSON.stringify({ name: 'monorepo', workspaces: ['packages/*'] }),
    );
    mkdirSync(join(root, 'packages', 'client'), { recursive: true });
    writeFileSync(join(root, 'packages', 'client', 'package.json'), JSON.stringify({ name: 'client' }));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('under `npm run connect -w client`, resolves flags against INIT_CWD and finds the workspaces root', () => {
    const env = { npm_package_name: 'client', INIT_CWD: root };
    expect(resolveInvocationPaths(join(root, 'packages', 'client'), env, 'client')).toEqual({
      invocationDir: root,
      repoRoot: root,
    });
  });

  it("ignores INIT_CWD when npm runs another package's script", () => {
    const env = { npm_package_name: 'local-iot', INIT_CWD: '/somewhere/else' };
    expect(resolveInvocationPaths(join(root, 'packages', 'client'), env, 'client')).toEqual({
      invocationDir: join(root, 'packages', 'client'),
      repoRoot: root,
    });
  });

  it('outside the repository, uses the working directory for both', () => {
    const outside = realpathSync(mkdtempSync(join(tmpdir(), 'client-outside-')));
    try {
      expect(resolveInvocationPaths(outside, {}, 'client')).toEqual({
        invocationDir: outside,
        repoRoot: outside,
      });
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
