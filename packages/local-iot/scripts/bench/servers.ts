// The two servers `npm run bench` compares, each started as its own OS process on a free loopback port with the
// same ECDSA P-256 server certificate: local-iot (its CLI from dist, as `npm run local` runs it) and mosquitto 2.0
// with TLS and a password file. Their logs go to files in the run's directory, as `npm start` writes local-iot's.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { createServer, connect as connectTcp } from 'node:net';
import { userInfo } from 'node:os';
import * as path from 'node:path';
import { parseLocalConnectionInfo, type LocalConnectionInfo } from '@iot-custom-auth/protocol';
import { writePrivateFile } from '../../src/private-state-files';

/** A server process under measurement. */
export interface BenchServer {
  readonly name: string;
  /** The process whose tree is charged (local-iot's gateway, with its Lambda environments under it). */
  readonly pid: number;
  readonly port: number;
  stop(): Promise<void>;
}

export interface LocalIotServer extends BenchServer {
  readonly connection: LocalConnectionInfo;
  readonly stateDir: string;
}

/** Starts `dist/cli.js` with its state in `runDir/local-iot`; resolves once connection.json is written. */
export async function startLocalIotServer(options: {
  readonly runDir: string;
  readonly cdkOut: string;
  readonly lambdaConcurrency: number;
  /** Extra Node.js flags for the gateway process, e.g. `--cpu-prof`. */
  readonly nodeFlags?: readonly string[];
  /**
   * The build to run: a local-iot `dist` directory (its `cli.js`), e.g. an earlier revision's for a side-by-side
   * comparison. @default this package's dist
   */
  readonly dist?: string;
  /** Its name in the tables, and of its state directory and log file in `runDir`. @default local-iot */
  readonly name?: string;
}): Promise<LocalIotServer> {
  const cli = path.join(options.dist ?? path.join(__dirname, '..', '..', 'dist'), 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build first (npx tsc -b tsconfig.build.json)`);
  const name = options.name ?? 'local-iot';
  const stateDir = path.join(options.runDir, name);
  const logFile = path.join(options.runDir, `${name}.log`);
  const child = spawnLogged(
    process.execPath,
    [
      ...(options.nodeFlags ?? []),
      cli,
      '--cdk-out',
      options.cdkOut,
      '--state-dir',
      stateDir,
      '--port',
      '0',
      '--lambda-concurrency',
      String(options.lambdaConcurrency),
    ],
    logFile,
  );
  const connectionFile = path.join(stateDir, 'connection.json');
  await waitUntil(
    () => existsSync(connectionFile),
    child,
    logFile,
    'local-iot did not write connection.json',
  );
  const connection = parseLocalConnectionInfo(readFileSync(connectionFile, 'utf8'));
  if (typeof connection === 'string') throw new Error(`${connectionFile}: ${connection}`);
  return {
    name,
    pid: child.pid as number,
    port: connection.port,
    connection,
    stateDir,
    stop: () => stopProcess(child, 'SIGINT'),
  };
}

/** Credentials mosquitto's password file holds. */
export interface PasswordEntry {
  readonly username: string;
  readonly password: string;
}

/**
 * Starts mosquitto on a free loopback port with `certFile`/`keyFile` and a password file (hashed by
 * `mosquitto_passwd -U`, so no password is on a command line) holding `users`.
 */
export async function startMosquitto(options: {
  readonly runDir: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly users: readonly PasswordEntry[];
}): Promise<BenchServer> {
  const passwordFile = path.join(options.runDir, 'mosquitto.passwd');
  for (const { username } of options.users) {
    if (/[:\n]/.test(username))
      throw new Error(`a mosquitto user name cannot hold ':' or a newline: ${username}`);
  }
  writePrivateFile(passwordFile, options.users.map((u) => `${u.username}:${u.password}\n`).join(''));
  execFileSync('mosquitto_passwd', ['-U', passwordFile], { stdio: 'pipe' });
  const port = await freeLoopbackPort();
  const configFile = path.join(options.runDir, 'mosquitto.conf');
  writePrivateFile(
    configFile,
    [
      // Runs as whoever runs the benchmark (as root it would switch to 'mosquitto', who cannot read 0600 keys).
      `user ${userInfo().username}`,
      'persistence false',
      'allow_anonymous false',
      `password_file ${passwordFile}`,
      `listener ${port} 127.0.0.1`,
      `certfile ${options.certFile}`,
      `keyfile ${options.keyFile}`,
      'tls_version tlsv1.2',
      '',
    ].join('\n'),
  );
  const logFile = path.join(options.runDir, 'mosquitto.log');
  const child = spawnLogged('mosquitto', ['-c', configFile], logFile);
  await waitForPort(port, child, logFile);
  return { name: 'mosquitto', pid: child.pid as number, port, stop: () => stopProcess(child, 'SIGTERM') };
}

/**
 * Starts `node-tls-floor.ts` (the least a Node.js MQTT server does per connect: TLS, CONNECT, password, CONNACK)
 * with `certFile`/`keyFile` and one user, given on its stdin so no password is on a command line.
 */
export async function startNodeTlsFloor(options: {
  readonly runDir: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly user: PasswordEntry;
}): Promise<BenchServer> {
  const logFile = path.join(options.runDir, 'node-tls-floor.log');
  const fd = openSync(logFile, 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'node-tls-floor.ts'), options.certFile, options.keyFile],
      { stdio: ['pipe', fd, fd] },
    );
  } finally {
    closeSync(fd);
  }
  child.stdin?.end(`${options.user.username}\n${options.user.password}\n`);
  let port: number | undefined;
  await waitUntil(
    () => {
      port = Number(/^listening (\d+)$/m.exec(readFileSync(logFile, 'utf8'))?.[1]) || undefined;
      return port !== undefined;
    },
    child,
    logFile,
    'the Node.js TLS floor server did not start listening',
  );
  return {
    name: 'Node.js TLS floor',
    pid: child.pid as number,
    port: port as number,
    stop: () => stopProcess(child, 'SIGTERM'),
  };
}

/** A random password for the benchmark's mosquitto user (never printed). */
export function randomPassword(): string {
  return randomBytes(18).toString('base64url');
}

function spawnLogged(command: string, args: readonly string[], logFile: string): ChildProcess {
  const fd = openSync(logFile, 'a', 0o600);
  try {
    return spawn(command, args, { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
}

async function waitUntil(
  ready: () => boolean,
  child: ChildProcess,
  logFile: string,
  what: string,
): Promise<void> {
  for (let waited = 0; waited < 60_000; waited += 50) {
    if (ready()) return;
    if (child.exitCode !== null || child.signalCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`${what}; its output (${logFile}):\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
}

async function waitForPort(port: number, child: ChildProcess, logFile: string): Promise<void> {
  let open = false;
  await waitUntil(
    () => {
      if (!open) {
        const probe = connectTcp(port, '127.0.0.1');
        probe.once('connect', () => {
          open = true;
          probe.destroy();
        });
        probe.once('error', () => probe.destroy());
      }
      return open;
    },
    child,
    logFile,
    `mosquitto is not listening on 127.0.0.1:${port}`,
  );
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function stopProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill(signal);
  });
}
