import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { authorizerLambdaPackageDir, authorizerLambdaSource, findRepoRoot } from '../src';
import { expectInfraError, REPO_ROOT } from './helpers';

describe('findRepoRoot', () => {
  it('walks up to the npm workspaces root', () => {
    expect(findRepoRoot(path.join(REPO_ROOT, 'packages', 'infra', 'src'))).toBe(REPO_ROOT);
    expect(findRepoRoot(REPO_ROOT)).toBe(REPO_ROOT);
    expect(findRepoRoot()).toBe(REPO_ROOT);
  });

  it('says what is missing outside a checkout', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'no-repo-'));
    try {
      expectInfraError(
        () => findRepoRoot(dir),
        `cannot find the repository root (a package.json declaring workspaces) above ${dir}: run from a checkout of this repository after \`npm ci\``,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('authorizerLambdaSource', () => {
  it('points at the handler, the lock file and the root tsconfig', () => {
    expect(authorizerLambdaSource('/repo')).toEqual({
      projectRoot: '/repo',
      entry: path.join('/repo', 'packages', 'authorizer-lambda', 'src', 'handler.ts'),
      depsLockFilePath: path.join('/repo', 'package-lock.json'),
      tsconfig: path.join('/repo', 'tsconfig.json'),
    });
  });

  it('takes the handler from the given package directory', () => {
    expect(authorizerLambdaSource('/repo', '/elsewhere/authorizer-lambda').entry).toBe(
      path.join('/elsewhere/authorizer-lambda', 'src', 'handler.ts'),
    );
  });
});

describe('authorizerLambdaPackageDir', () => {
  it('resolves the declared authorizer-lambda dependency to its workspace', () => {
    expect(authorizerLambdaPackageDir()).toBe(path.join(REPO_ROOT, 'packages', 'authorizer-lambda'));
  });
});
