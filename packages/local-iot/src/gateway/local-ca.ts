import { X509Certificate, createPrivateKey, KeyObject, webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { LocalIotError } from '../errors';
import {
  ensurePrivateDirectory,
  keepFilePrivate,
  stateFileError,
  writePrivateFile,
} from '../private-state-files';

/** File names of the local CA inside the state directory. */
export const LOCAL_CA_FILES = {
  /** The CA certificate clients trust (`--ca`, `ca` option, `withCertificateAuthorityFromPath`). */
  ca: 'ca.pem',
  /** The gateway's server certificate, issued by the CA. */
  cert: 'server.pem',
  /** The gateway's private key. */
  key: 'server-key.pem',
} as const;

/** Default state directory, relative to the working directory (git-ignored). */
export const DEFAULT_STATE_DIR = '.local-iot';

/** Names every local certificate carries, whatever the endpoint host. */
const ALWAYS_INCLUDED_HOSTS = ['localhost', '127.0.0.1'] as const;

const DAY_MS = 86_400_000;

/** Why `ensureLocalCa` created new files, or `undefined` when it reused the existing ones. */
export type LocalCaRenewalReason = 'missing' | 'invalid' | 'hosts-changed' | 'expiring';

/** The local CA and the gateway's server certificate, as files and as PEM text. */
export interface LocalCa {
  /** Absolute or relative paths (as `stateDir` was given) of the three files. */
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** PEM text of the CA certificate, the server certificate and its private key. */
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  /** Names in the server certificate's subjectAltName, sorted: DNS names and IP addresses. */
  readonly hosts: readonly string[];
  /** When the server certificate expires. */
  readonly notAfter: Date;
  /** Set when this call (re)created the files, with the reason; absent when they were reused. */
  readonly renewed?: LocalCaRenewalReason;
}

/** Knobs for tests and tools; the defaults suit `npm start`. */
export interface EnsureLocalCaOptions {
  /** Current time. @default () => new Date() */
  readonly now?: () => Date;
  /** Lifetime of a new CA and server certificate. @default 365 */
  readonly validityDays?: number;
  /** Renew when the server certificate (or the CA) expires within this many days. @default 7 */
  readonly renewBeforeDays?: number;
}

/**
 * Returns the local CA and a server certificate valid for `localhost`, `127.0.0.1` and every name in
 * `hosts`, creating them in `stateDir` (`ca.pem`, `server.pem`, `server-key.pem`) the first time and reusing
 * them afterwards, so a client configured once with `ca.pem` keeps working across restarts.
 *
 * The files are created again when any is missing or unreadable as a certificate/key, when the server
 * certificate is not issued by the CA or does not match its key, when the set of names changes, or when
 * either certificate expires within `renewBeforeDays`. The CA's private key is never written to disk: a new
 * CA is made with each new server certificate, so a copy of the state directory cannot mint certificates for
 * other names.
 *
 * Keys are ECDSA P-256 with SHA-256 signatures; the certificates carry the extensions strict verifiers
 * require (basicConstraints, keyUsage, extendedKeyUsage serverAuth, subject/authority key identifiers).
 *
 * @throws LocalIotError when a host name is not a valid DNS name or IP address, or the directory cannot
 *   be read or written.
 */
export async function ensureLocalCa(
  stateDir: string = DEFAULT_STATE_DIR,
  hosts: readonly string[] = [],
  options: EnsureLocalCaOptions = {},
): Promise<LocalCa> {
  const wanted = normalizeHosts(hosts);
  const now = (options.now ?? (() => new Date()))();
  const validityDays = options.validityDays ?? 365;
  const renewBeforeDays = options.renewBeforeDays ?? 7;
  if (!Number.isInteger(validityDays) || validityDays < 1) {
    throw new LocalIotError(`validityDays must be a positive integer, but ${validityDays} was provided`);
  }
  if (!Number.isInteger(renewBeforeDays) || renewBeforeDays < 0 || renewBeforeDays >= validityDays) {
    throw new LocalIotError(
      `renewBeforeDays must be an integer from 0 to validityDays - 1 (${validityDays - 1}), but ${renewBeforeDays} was provided`,
    );
  }
  const files = {
    caFile: join(stateDir, LOCAL_CA_FILES.ca),
    certFile: join(stateDir, LOCAL_CA_FILES.cert),
    keyFile: join(stateDir, LOCAL_CA_FILES.key),
  };

  const existing = await readExisting(files);
  const problem = existing
    ? checkExisting(existing, wanted, now.getTime(), renewBeforeDays * DAY_MS)
    : 'missing';
  if (existing?.leaf && problem === undefined) {
    // Re-tighten the modes in case something loosened them; the content is reused as is.
    for (const file of Object.values(files)) keepFilePrivate(file);
    return { ...files, ...existing.pem, hosts: wanted, notAfter: new Date(existing.leaf.validTo) };
  }

  const generated = await generate(wanted, now, validityDays);
  ensurePrivateDirectory(stateDir);
  writePrivateFile(files.caFile, generated.ca);
  writePrivateFile(files.certFile, generated.cert);
  writePrivateFile(files.keyFile, generated.key);
  return { ...files, ...generated, hosts: wanted, notAfter: generated.notAfter, renewed: problem };
}

/**
 * The sorted, de-duplicated subjectAltName entries for `hosts` plus `localhost` and `127.0.0.1`. DNS names
 * are lower-cased (they compare case-insensitively); IP addresses are kept as written.
 *
 * @throws LocalIotError naming the first entry that is neither a DNS name nor an IP address.
 */
export function normalizeHosts(hosts: readonly string[]): string[] {
  const names = new Set<string>(ALWAYS_INCLUDED_HOSTS);
  for (const host of hosts) {
    if (isIP(host) !== 0) {
      names.add(host);
    } else if (isDnsName(host)) {
      names.add(host.toLowerCase());
    } else {
      throw new LocalIotError(
        `endpoint host '${host}' is not a DNS name or an IP address; use a name such as 'localhost' or 'iot.local'`,
      );
    }
  }
  return [...names].sort();
}

function isDnsName(host: string): boolean {
  if (host.length === 0 || host.length > 253) return false;
  return host.split('.').every((label) => /^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/.test(label));
}

interface ExistingFiles {
  readonly pem: { readonly ca: string; readonly cert: string; readonly key: string };
  /** Parsed content; `undefined` when the file does not hold a certificate or key. */
  readonly caCert: X509Certificate | undefined;
  readonly leaf: X509Certificate | undefined;
  readonly privateKey: KeyObject | undefined;
}

/** Reads the three files; `undefined` when any is absent. Unparseable content is reported by `checkExisting`. */
async function readExisting(files: {
  caFile: string;
  certFile: string;
  keyFile: string;
}): Promise<ExistingFiles | undefined> {
  // Settled in order, so that when several fail the error always names the first file (the CA), not
  // whichever read happened to fail first.
  const settled = await Promise.allSettled([
    readOptional(files.caFile),
    readOptional(files.certFile),
    readOptional(files.keyFile),
  ]);
  const failed = settled.find((result) => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  const [ca, cert, key] = settled.map((result) => (result.status === 'fulfilled' ? result.value : undefined));
  if (ca === undefined || cert === undefined || key === undefined) return undefined;
  return {
    pem: { ca, cert, key },
    caCert: tryParse(() => new X509Certificate(ca)),
    leaf: tryParse(() => new X509Certificate(cert)),
    privateKey: tryParse(() => createPrivateKey(key)),
  };
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw stateFileError('could not read', file, error);
  }
}

function tryParse<T>(parse: () => T): T | undefined {
  try {
    return parse();
  } catch {
    return undefined;
  }
}

/** Why the existing files cannot be reused, or `undefined` when they can. */
function checkExisting(
  existing: ExistingFiles,
  wanted: readonly string[],
  nowMs: number,
  renewBeforeMs: number,
): LocalCaRenewalReason | undefined {
  const { caCert, leaf, privateKey } = existing;
  if (!caCert || !leaf || !privateKey) return 'invalid';
  const issuedByCa = caCert.ca && leaf.checkIssued(caCert) && leaf.verify(caCert.publicKey);
  if (!issuedByCa || !leaf.checkPrivateKey(privateKey)) return 'invalid';
  const present = subjectAltNames(leaf);
  if (present.length !== wanted.length || present.some((name, i) => name !== wanted[i])) {
    return 'hosts-changed';
  }
  for (const cert of [caCert, leaf]) {
    // A certificate from the future (the clock moved back) is as useless as one about to expire.
    if (Date.parse(cert.validTo) <= nowMs + renewBeforeMs || Date.parse(cert.validFrom) > nowMs) {
      return 'expiring';
    }
  }
  return undefined;
}

/** `DNS:localhost, IP Address:127.0.0.1` → `['127.0.0.1', 'localhost']`. */
function subjectAltNames(cert: X509Certificate): string[] {
  const names = (cert.subjectAltName ?? '')
    .split(', ')
    .map((entry) => /^(?:DNS|IP Address):(.+)$/.exec(entry)?.[1])
    .filter((name): name is string => name !== undefined)
    .map((name) => (isIP(name) === 0 ? name.toLowerCase() : name));
  return [...new Set(names)].sort();
}

interface Generated {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly notAfter: Date;
}

async function generate(hosts: readonly string[], now: Date, validityDays: number): Promise<Generated> {
  const crypto = webcrypto;
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  // Back-date a little so a client whose clock runs slightly behind still accepts the certificate.
  const notBefore = new Date(now.getTime() - 3_600_000);
  const notAfter = new Date(now.getTime() + validityDays * DAY_MS);

  const caKeys = await crypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: 'CN=iot-custom-auth local-iot CA, O=iot-custom-auth (local development only)',
      keys: caKeys,
      notBefore,
      notAfter,
      signingAlgorithm: algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
      ],
    },
    crypto,
  );

  const serverKeys = await crypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const commonName = hosts.find((host) => host !== 'localhost' && isIP(host) === 0) ?? 'localhost';
  const serverCert = await x509.X509CertificateGenerator.create(
    {
      subject: `CN=${commonName}, O=iot-custom-auth (local development only)`,
      issuer: caCert.subject,
      publicKey: serverKeys.publicKey,
      signingKey: caKeys.privateKey,
      notBefore,
      notAfter,
      signingAlgorithm: algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension(
          hosts.map((host) =>
            isIP(host) === 0 ? { type: 'dns', value: host } : { type: 'ip', value: host },
          ),
          false,
        ),
        await x509.SubjectKeyIdentifierExtension.create(serverKeys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
      ],
    },
    crypto,
  );

  const key = KeyObject.from(serverKeys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
  return { ca: caCert.toString('pem') + '\n', cert: serverCert.toString('pem') + '\n', key, notAfter };
}
