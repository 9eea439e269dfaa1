#!/usr/bin/env node
import { chmod, open, readFile } from 'node:fs/promises';
import { newSecretsManagerClient } from '../aws-clients';
import { ConfigError, reportFailure } from '../errors';
import { StackOutputsReader } from '../outputs';
import { resolveInvocationPaths } from '../paths';
import { deviceMain, type DeviceDeps } from './device-main';

/** 0 done; 1 an AWS call failed for a reason that may pass; 2 usage or configuration error. */
export async function runDevice(argv: readonly string[], deps: DeviceDeps): Promise<0 | 1 | 2> {
  try {
    await deviceMain(argv, deps);
    return 0;
  } catch (error) {
    return reportFailure(error, deps.stderr);
  }
}

/** Creates `path` (never an existing file or a symlink's target) with mode 0600, whatever the umask. */
export async function writePrivateFile(path: string, text: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'EEXIST'
        ? `${path} exists: remove it or choose another --out (credentials are never written over a file)`
        : `cannot create ${path}: ${code ?? String(error)}`,
    );
  }
  try {
    await chmod(path, 0o600);
    await handle.writeFile(text, 'utf8');
  } finally {
    await handle.close();
  }
}

/** The real dependencies. */
export function defaultDeviceDeps(): DeviceDeps {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    outputs: new StackOutputsReader({ readFile: (path) => readFile(path, 'utf8') }),
    secretsManager: newSecretsManagerClient,
    writePrivateFile,
    now: () => new Date(),
    paths: resolveInvocationPaths(process.cwd(), process.env, 'client'),
  };
}

if (require.main === module) {
  void runDevice(process.argv.slice(2), defaultDeviceDeps()).then((code) => {
    process.exitCode = code;
  });
}
