import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { DeploymentError } from '../errors';
import type { CfnResource, CfnTemplate } from './intrinsics';

const STACK_ARTIFACT_TYPE = 'aws:cloudformation:stack';
const ASSET_MANIFEST_TYPE = 'cdk:asset-manifest';
const SYNTH_HINT = 'run `npx cdk synth` first';

/** One synthesized CloudFormation stack of a CDK cloud assembly (`cdk.out`). */
export interface AssemblyStack {
  /** Absolute path of the cloud assembly directory. */
  readonly directory: string;
  /** The stack's name (what `cdk deploy` would deploy it as). */
  readonly stackName: string;
  /** Artifact id in `manifest.json` (usually the stack name). */
  readonly artifactId: string;
  /** Region of the stack's environment when the app pinned one (`aws://<account>/<region>`), else undefined. */
  readonly region?: string;
  readonly templateFile: string;
  readonly template: CfnTemplate;
  /** Asset source paths by asset hash, from the stack's asset manifest (when there is one). */
  readonly fileAssets: Readonly<Record<string, string>>;
}

interface ManifestArtifact {
  readonly type?: string;
  readonly environment?: string;
  readonly displayName?: string;
  readonly properties?: {
    readonly templateFile?: string;
    readonly stackName?: string;
    readonly file?: string;
  };
  readonly dependencies?: readonly string[];
}

/**
 * Reads a CDK cloud assembly: `manifest.json`, the stack artifact (`aws:cloudformation:stack`) named
 * `stackName` (by stack name, artifact id or display name) or the only one, its template and its asset manifest.
 * @throws DeploymentError naming what is missing and the fix (e.g. "run `npx cdk synth` first").
 */
export function readCloudAssembly(cdkOut: string, stackName?: string): AssemblyStack {
  const directory = resolve(cdkOut);
  if (!existsSync(directory) || !statSync(directory).isDirectory()) {
    throw new DeploymentError(`no cloud assembly at ${directory}: ${SYNTH_HINT}`);
  }
  const manifestFile = join(directory, 'manifest.json');
  if (!existsSync(manifestFile)) {
    throw new DeploymentError(`no ${manifestFile}: ${SYNTH_HINT}`);
  }
  const manifest = readJson(manifestFile) as { artifacts?: Record<string, ManifestArtifact> };
  const artifacts = Object.entries(manifest.artifacts ?? {});
  const stacks = artifacts.filter(([, artifact]) => artifact.type === STACK_ARTIFACT_TYPE);
  const nameOf = ([id, artifact]: [string, ManifestArtifact]): string => artifact.properties?.stackName ?? id;
  if (stacks.length === 0) {
    throw new DeploymentError(
      `${manifestFile} has no CloudFormation stack (artifact of type ${STACK_ARTIFACT_TYPE}): check that the CDK app defines a stack, then ${SYNTH_HINT}`,
    );
  }
  let chosen: [string, ManifestArtifact] | undefined;
  if (stackName !== undefined) {
    chosen = stacks.find((entry) => [nameOf(entry), entry[0], entry[1].displayName].includes(stackName));
    if (chosen === undefined) {
      throw new DeploymentError(
        `stack '${stackName}' is not in ${manifestFile} (it has: ${stacks.map(nameOf).join(', ')}): check the stack name, or ${SYNTH_HINT}`,
      );
    }
  } else if (stacks.length === 1) {
    chosen = stacks[0];
  } else {
    throw new DeploymentError(
      `${manifestFile} has ${stacks.length} stacks (${stacks.map(nameOf).join(', ')}): choose one by name`,
    );
  }
  const [artifactId, artifact] = chosen as [string, ManifestArtifact];
  const templateName = artifact.properties?.templateFile;
  if (typeof templateName !== 'string') {
    throw new DeploymentError(
      `stack artifact '${artifactId}' in ${manifestFile} has no templateFile: ${SYNTH_HINT}`,
    );
  }
  const templateFile = join(directory, templateName);
  if (!existsSync(templateFile)) throw new DeploymentError(`no ${templateFile}: ${SYNTH_HINT}`);
  const template = readJson(templateFile);
  if (typeof template !== 'object' || template === null || Array.isArray(template)) {
    throw new DeploymentError(
      `${templateFile} is not a CloudFormation template (not a JSON object): ${SYNTH_HINT}`,
    );
  }
  const region = /^aws:\/\/[^/]+\/([a-z0-9-]+)$/.exec(artifact.environment ?? '')?.[1];
  return {
    directory,
    stackName: nameOf(chosen as [string, ManifestArtifact]),
    artifactId,
    ...(region && region !== 'unknown-region' && { region }),
    templateFile,
    template: template,
    fileAssets: readFileAssets(directory, artifact, manifest.artifacts ?? {}),
  };
}

/**
 * The directory holding a Lambda function's bundled code: the resource's `Metadata['aws:asset:path']` (what
 * `cdk synth` writes by default), else the asset named by `Code.S3Key` in the asset manifest (when asset
 * metadata was turned off).
 * @throws DeploymentError when neither leads to a directory, naming the resource.
 */
export function functionCodeDirectory(
  stack: AssemblyStack,
  logicalId: string,
  resource: CfnResource,
): string {
  const where = `Lambda function '${logicalId}'`;
  const metadataPath = resource.Metadata?.['aws:asset:path'];
  let assetPath: string | undefined;
  if (typeof metadataPath === 'string') {
    assetPath = isAbsolute(metadataPath) ? metadataPath : join(stack.directory, metadataPath);
  } else {
    const code = resource.Properties?.Code as Record<string, unknown> | undefined;
    if (code?.ZipFile !== undefined) {
      throw new DeploymentError(
        `${where} has inline code (Code.ZipFile), which local-iot does not run: bundle it as an asset`,
      );
    }
    const key = typeof code?.S3Key === 'string' ? code.S3Key : undefined;
    const hash = key?.replace(/\.zip$/, '');
    const source = hash === undefined ? undefined : stack.fileAssets[hash];
    if (source === undefined) {
      throw new DeploymentError(
        `${where} has no aws:asset:path metadata and its Code is not an asset of ${stack.directory}: ` +
          're-run `npx cdk synth` (with asset metadata, the default)',
      );
    }
    assetPath = isAbsolute(source) ? source : join(stack.directory, source);
  }
  if (!existsSync(assetPath))
    throw new DeploymentError(`${where}: its code ${assetPath} does not exist: ${SYNTH_HINT}`);
  if (!statSync(assetPath).isDirectory()) {
    throw new DeploymentError(
      `${where}: its code ${assetPath} is not a directory (a zip file?): local-iot runs bundled directories`,
    );
  }
  return assetPath;
}

function readFileAssets(
  directory: string,
  artifact: ManifestArtifact,
  artifacts: Readonly<Record<string, ManifestArtifact>>,
): Record<string, string> {
  const assets: Record<string, string> = {};
  for (const dependency of artifact.dependencies ?? []) {
    const manifestArtifact = artifacts[dependency];
    const file = manifestArtifact?.properties?.file;
    if (manifestArtifact?.type !== ASSET_MANIFEST_TYPE || typeof file !== 'string') continue;
    const path = join(directory, file);
    if (!existsSync(path)) continue;
    const content = readJson(path) as { files?: Record<string, { source?: { path?: unknown } }> };
    for (const [hash, entry] of Object.entries(content.files ?? {})) {
      if (typeof entry.source?.path === 'string') assets[hash] = entry.source.path;
    }
  }
  return assets;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (error) {
    throw new DeploymentError(`${file} is not valid JSON (${(error as Error).message}): ${SYNTH_HINT}`, {
      cause: error,
    });
  }
}
