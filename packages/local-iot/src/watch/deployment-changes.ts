import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type {
  LocalAuthorizer,
  LocalDeployment,
  LocalFunction,
  LocalPolicy,
} from '../deployment/local-deployment';
import type { DeploymentSwap } from '../local-iot';

/** What a deployment's functions run: a digest of each function's code directory, by function name. */
export type CodeFingerprints = ReadonlyMap<string, string>;

/**
 * Digests each function's code directory as it is now. Taken when a deployment is loaded, because a synth
 * may rewrite an asset directory in place (same path, new code), so the old code cannot be read afterwards.
 */
export function fingerprintCode(deployment: LocalDeployment): CodeFingerprints {
  return new Map(deployment.functions.map((fn) => [fn.name, digestDirectory(fn.codeDirectory)]));
}

function digestDirectory(directory: string): string {
  const hash = createHash('sha256');
  const visit = (relative: string): void => {
    const entries = readdirSync(path.join(directory, relative), { withFileTypes: true });
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const name = path.join(relative, entry.name);
      if (entry.isDirectory()) visit(name);
      else if (entry.isFile())
        hash
          .update(name)
          .update('\0')
          .update(readFileSync(path.join(directory, name)));
    }
  };
  try {
    visit('.');
  } catch {
    // A missing or unreadable directory is its own state: the runner reports it on the first invocation.
    hash.update('unreadable');
  }
  return hash.digest('hex');
}

/** A deployment with the digests of its code, as `fingerprintCode` took them when it was loaded. */
export interface FingerprintedDeployment {
  readonly deployment: LocalDeployment;
  readonly code: CodeFingerprints;
}

/** What changed from one deployment to the next, per kind of resource: one entry per resource. */
export interface DeploymentChanges {
  readonly functions: readonly string[];
  readonly authorizers: readonly string[];
  readonly policies: readonly string[];
  readonly secrets: readonly string[];
  /** Stack outputs whose value changed, appeared or went away. */
  readonly outputs: readonly string[];
}

/** Compares two deployments: each entry names the resource and what changed, e.g. `Fn (code, timeout)`. */
export function diffDeployments(
  before: FingerprintedDeployment,
  after: FingerprintedDeployment,
): DeploymentChanges {
  return {
    functions: diffByName(before.deployment.functions, after.deployment.functions, (a, b) =>
      functionChanges(a, b, before.code, after.code),
    ),
    authorizers: diffByName(before.deployment.authorizers, after.deployment.authorizers, authorizerChanges),
    policies: diffByName(before.deployment.policies, after.deployment.policies, policyChanges),
    secrets: diffByName(before.deployment.secrets, after.deployment.secrets, () => []),
    outputs: changedKeys(before.deployment.outputs, after.deployment.outputs),
  };
}

/** The one line the CLI prints after a swap, e.g. `functions: Fn (code); policies: P (document)`. */
export function describeChanges(changes: DeploymentChanges): string {
  const parts = (Object.keys(changes) as (keyof DeploymentChanges)[])
    .filter((kind) => changes[kind].length > 0)
    .map((kind) => `${kind}: ${changes[kind].join(', ')}`);
  return parts.length === 0 ? 'nothing changed' : parts.join('; ');
}

/**
 * What the CLI says after a swap, one line each: the changes, the X.509 listener the swap started (with where
 * a client finds it) and each notice of what is not served.
 */
export function describeSwap(
  swap: Pick<DeploymentSwap, 'changes' | 'notices' | 'x509Started'>,
  connectionFile: string,
): string[] {
  const lines = [
    `deployment swapped (${describeChanges(swap.changes)}); connected clients keep their session until their policy refresh`,
  ];
  if (swap.x509Started !== undefined) {
    const { endpoint, port, domainConfigurationName } = swap.x509Started;
    lines.push(
      `now serving domain configuration ${domainConfigurationName} (CUSTOM_AUTH_X509) on ${endpoint}:${port}, client certificate required; ${connectionFile} has it`,
    );
  }
  return [...lines, ...swap.notices.map((notice) => `not served: ${notice}`)];
}

function diffByName<T extends { readonly name: string }>(
  before: readonly T[],
  after: readonly T[],
  changesOf: (a: T, b: T) => readonly string[],
): string[] {
  const old = new Map(before.map((item) => [item.name, item]));
  const described: string[] = [];
  for (const item of after) {
    const previous = old.get(item.name);
    old.delete(item.name);
    if (previous === undefined) {
      described.push(`${item.name} (added)`);
      continue;
    }
    const changed = changesOf(previous, item);
    if (changed.length > 0) described.push(`${item.name} (${changed.join(', ')})`);
  }
  for (const name of old.keys()) described.push(`${name} (removed)`);
  return described;
}

function functionChanges(
  a: LocalFunction,
  b: LocalFunction,
  codeBefore: CodeFingerprints,
  codeAfter: CodeFingerprints,
): string[] {
  const changed = fieldChanges(a, b, [
    'handler',
    'runtime',
    'timeoutSeconds',
    'memorySizeMb',
    'logFormat',
    'applicationLogLevel',
    'reservedConcurrency',
  ]);
  if (codeBefore.get(a.name) !== codeAfter.get(b.name)) changed.unshift('code');
  const environment = changedKeys(a.environment, b.environment);
  if (environment.length > 0) changed.push(`environment ${environment.join(' ')}`);
  return changed;
}

function authorizerChanges(a: LocalAuthorizer, b: LocalAuthorizer): string[] {
  const changed = fieldChanges(a, b, [
    'status',
    'signingDisabled',
    'tokenKeyName',
    'enableCachingForHttp',
    'functionName',
  ]);
  if (!sameJson(a.tokenSigningPublicKeys, b.tokenSigningPublicKeys)) changed.push('token signing keys');
  if (a.invokePermission.granted !== b.invokePermission.granted) changed.push('invoke permission');
  return changed;
}

function policyChanges(a: LocalPolicy, b: LocalPolicy): string[] {
  return sameJson(a.document, b.document) ? [] : ['document'];
}

/** The fields that differ, with the new value of the scalar ones (`status INACTIVE`). */
function fieldChanges<T>(a: T, b: T, fields: readonly (keyof T)[]): string[] {
  return fields
    .filter((field) => a[field] !== b[field])
    .map((field) => `${String(field)} ${b[field] === undefined ? 'unset' : String(b[field])}`);
}

function changedKeys(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((key) => !sameJson(a[key], b[key])).sort();
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
