import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findWorkspaceRoot } from '../src';

describe('findWorkspaceRoot', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'workspace-root-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the nearest package.json declaring workspaces, skipping package manifests and broken ones', () => {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ workspaces: ['packages/*'] }));
    mkdirSync(join(dir, 'packages', 'client', 'src'), { recursive: true });
    writeFileSync(join(dir, 'packages', 'client', 'package.json'), JSON.stringify({ name: 'client' }));
    writeFileSync(join(dir, 'packages', 'package.json'), '{ not json');
    expect(findWorkspaceRoot(join(dir, 'packages', 'client', 'src'))).toBe(dir);
    expect(findWorkspaceRoot(dir)).toBe(dir);
  });

  it('returns undefined outside a workspace', () => {
    expect(findWorkspaceRoot(dir)).toBeUndefined();
  });

  it('finds this repository from its own sources', () => {
    expect(findWorkspaceRoot(__dirname)).toBe(join(__dirname, '..', '..', '..'));
  });
});
