import { randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { connect } from 'node:tls';
import {
  awsIotCertificateId,
  demoDeviceCertificateFiles,
  LOCAL_IOT_FILES,
  MQTT_ALPN_PROTOCOL,
  MQTT_REASON_CODES as RC,
  parseLocalConnectionInfo,
  type ClientReport,
} from '@iot-custom-auth/protocol';
import { generateSelfSignedDeviceCertificate } from 'infra';
import type { ConnectLogEntry, GatewayLogEntry, TlsConnectionLogEntry, TlsRefusedLogEntry } from 'local-iot';
import type { MatrixResult, MatrixRow, RunMatrixOptions } from './connect-matrix';
import { ConnectMatrixError } from './errors';

/**
 * The connect matrix's rows for custom authentication with an X.509 client certificate (`CUSTOM_AUTH_X509`,
 * the stack's X.509 domain configuration served by local-iot's second TLS listener): the demo certificate
 * admitted, a certificate the stack did not register refused in the TLS handshake, a client id that is not the
 * certificate's subject CN refused by the Lambda, and a connection without a client certificate refused.
 */

/** What the gateway's log must show of a row's client certificate. */
export type ClientCertificateExpectation =
  /** A `tls-connection` (and, after CONNECT, the `connect`) entry of the X.509 listener with this certificate id. */
  | { readonly gateway: 'verified'; readonly id: string }
  /** A `tls-refused` entry of the X.509 listener with this cause (and the certificate id, when one was sent). */
  | { readonly gateway: 'refused'; readonly cause: string; readonly id?: string };

/** What the mTLS rows need, prepared before the run. */
export interface MtlsRowInputs {
  /** The demo certificate's subject CN (`<clientIdPrefix>mtls-demo`) and certificate id. */
  readonly demo: { readonly commonName: string; readonly id: string };
  /** A certificate made for this run, which the stack did not register. */
  readonly unregistered: {
    readonly certFile: string;
    readonly keyFile: string;
    readonly commonName: string;
    readonly id: string;
  };
}

const certificateId = (pem: string): string => awsIotCertificateId(new X509Certificate(pem));

/**
 * Reads the demo certificate the synth created in `<repoRoot>/.keys/` for the stack's `clientIdPrefix` (the
 * files are named after its CN, `<prefix>mtls-demo`) and writes a certificate of this run's own (EC P-256,
 * self-signed, subject CN under the same prefix) into `scratchDir` (key mode 0600).
 */
export async function prepareMtlsRows(
  repoRoot: string,
  scratchDir: string,
  clientIdPrefix: string,
): Promise<MtlsRowInputs> {
  const files = demoDeviceCertificateFiles(clientIdPrefix);
  const demoFile = path.join(repoRoot, files.directory, files.certificate);
  let demoPem: string;
  try {
    demoPem = readFileSync(demoFile, 'utf8');
  } catch (error) {
    throw new ConnectMatrixError(
      `cannot read the demo device certificate ${demoFile} (${(error as NodeJS.ErrnoException).code ?? String(error)}): the synth with clientIdPrefix ${clientIdPrefix} creates it`,
    );
  }
  const subject = new X509Certificate(demoPem).subject.split('\n').find((line) => line.startsWith('CN='));
  // The synth refuses a demo file whose CN is not its name's, so this only trips on a file changed since.
  if (subject !== `CN=${files.subjectCn}`) {
    throw new ConnectMatrixError(
      `the demo certificate ${demoFile} has subject ${subject ?? '(no CN)'}, not CN=${files.subjectCn}: delete it and its key, then run the synth again`,
    );
  }
  const commonName = `${clientIdPrefix}mtls-unregistered-${randomUUID().slice(0, 8)}`;
  const own = await generateSelfSignedDeviceCertificate({ commonName });
  const certFile = path.join(scratchDir, 'unregistered-device-cert.pem');
  const keyFile = path.join(scratchDir, 'unregistered-device-key.pem');
  writeFileSync(certFile, own.certificatePem);
  writeFileSync(keyFile, own.privateKeyPem, { mode: 0o600 });
  return {
    demo: { commonName: files.subjectCn, id: certificateId(demoPem) },
    unregistered: { certFile, keyFile, commonName, id: certificateId(own.certificatePem) },
  };
}

/** The four mTLS rows, in the order of issue 11. */
export function mtlsMatrixRows(inputs: MtlsRowInputs): MatrixRow[] {
  const { demo, unregistered } = inputs;
  const otherId = `${demo.commonName.replace(/mtls-demo$/, '')}mtls-not-the-cn-${randomUUID().slice(0, 8)}`;
  return [
    {
      name: 'mTLS, demo certificate',
      clientId: demo.commonName,
      args: ['--client_id', demo.commonName, '--mtls'],
      expect: {
        exitCode: 0,
        reasonCode: RC.success,
        transport: 'mqtt',
        authentication: 'CUSTOM_AUTH_X509',
        lambdaInvoked: true,
        clientCertificate: { gateway: 'verified', id: demo.id },
      },
    },
    {
      name: 'mTLS, certificate the stack did not register',
      clientId: unregistered.commonName,
      args: ['--cert', unregistered.certFile, '--key', unregistered.keyFile],
      expect: {
        exitCode: 1,
        transport: 'mqtt',
        authentication: 'CUSTOM_AUTH_X509',
        lambdaInvoked: false,
        explainedCause: 'CLIENT_CERTIFICATE_NOT_ACCEPTED',
        clientCertificate: {
          gateway: 'refused',
          cause: 'client-certificate-not-registered',
          id: unregistered.id,
        },
      },
    },
    {
      name: "mTLS, client id is not the certificate's CN",
      clientId: otherId,
      args: ['--client_id', otherId, '--mtls'],
      expect: {
        exitCode: 1,
        reasonCode: RC.badUserNameOrPassword,
        transport: 'mqtt',
        authentication: 'CUSTOM_AUTH_X509',
        lambdaInvoked: true,
        explainedCause: 'NOT_AUTHENTICATED',
        clientCertificate: { gateway: 'verified', id: demo.id },
      },
    },
    {
      // The client cannot connect without a certificate with --mtls (nor should it), so this row is a raw
      // TLS handshake to the X.509 listener with the right SNI, ALPN and CA and no client certificate.
      name: 'mTLS, no client certificate (raw TLS)',
      clientId: '',
      args: [],
      expect: {
        exitCode: 1,
        transport: 'mqtt',
        lambdaInvoked: false,
        clientCertificate: { gateway: 'refused', cause: 'no-client-certificate' },
      },
      run: runWithoutClientCertificate,
    },
  ];
}

/**
 * Each expectation about the client certificate that did not hold: the client's report (authentication,
 * certificate id) and the gateway's log (the certificate verified on the X.509 listener, or refused there
 * with the expected cause).
 */
export function clientCertificateFailures(
  row: MatrixRow,
  report: ClientReport | undefined,
  decision: ConnectLogEntry | undefined,
  gatewayLog: readonly GatewayLogEntry[],
): string[] {
  const { expect } = row;
  const failures: string[] = [];
  if (
    report !== undefined &&
    expect.authentication !== undefined &&
    report.authentication !== expect.authentication
  ) {
    failures.push(
      `client reports authentication ${String(report.authentication)}, expected ${expect.authentication}`,
    );
  }
  const certificate = expect.clientCertificate;
  if (certificate === undefined) return failures;
  if (
    report !== undefined &&
    certificate.id !== undefined &&
    report.clientCertificate?.id !== certificate.id
  ) {
    failures.push(
      `client reports certificate ${String(report.clientCertificate?.id)}, expected ${certificate.id}`,
    );
  }
  if (certificate.gateway === 'verified') {
    const verified = gatewayLog.some(
      (entry): entry is TlsConnectionLogEntry =>
        entry.event === 'tls-connection' &&
        entry.authentication === 'CUSTOM_AUTH_X509' &&
        entry.clientCertificateId === certificate.id,
    );
    if (!verified) failures.push(`the gateway logged no verified client certificate ${certificate.id}`);
    if (decision !== undefined && decision.clientCertificateId !== certificate.id) {
      failures.push(
        `the gateway's decision names certificate ${String(decision.clientCertificateId)}, expected ${certificate.id}`,
      );
    }
  } else if (certificate.id !== undefined) {
    const refused = gatewayLog.find(
      (entry): entry is TlsRefusedLogEntry =>
        entry.event === 'tls-refused' && entry.clientCertificateId === certificate.id,
    );
    if (refused?.cause !== certificate.cause) {
      failures.push(
        `the gateway refused certificate ${certificate.id} with ${String(refused?.cause)}, expected ${certificate.cause}`,
      );
    }
  }
  return failures;
}

/** How long the raw handshake may take before it counts as not refused (a bound, never an assertion). */
const RAW_TLS_TIMEOUT_MS = 20_000;

/**
 * The no-certificate row: a TLS connection to the X.509 listener (SNI = its host, ALPN `mqtt`, the local CA)
 * that presents no client certificate. It passes when the server ends the connection without sending a byte
 * of MQTT and the gateway logs a `tls-refused` entry with the expected cause.
 */
async function runWithoutClientCertificate(row: MatrixRow, options: RunMatrixOptions): Promise<MatrixResult> {
  const started = Date.now();
  const connectionFile = path.join(path.dirname(options.outputsFile), LOCAL_IOT_FILES.connection);
  const info = parseLocalConnectionInfo(readFileSync(connectionFile, 'utf8'));
  if (typeof info === 'string' || info.x509 === undefined) {
    return {
      row,
      exitCode: null,
      durationMs: Date.now() - started,
      failures: [`${connectionFile} names no X.509 listener${typeof info === 'string' ? ` (${info})` : ''}`],
    };
  }
  const x509 = info.x509;
  const expectedCause =
    row.expect.clientCertificate?.gateway === 'refused' ? row.expect.clientCertificate.cause : '';
  const refusedBefore = refusalsWith(options.gatewayLog, expectedCause);
  const outcome = await new Promise<{ refused: boolean; bytes: number; why: string }>((resolve) => {
    let bytes = 0;
    const socket = connect({
      host: x509.endpoint,
      port: x509.port,
      servername: x509.endpoint,
      ALPNProtocols: [MQTT_ALPN_PROTOCOL],
      ca: readFileSync(info.caFile, 'utf8'),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ refused: false, bytes, why: `still open after ${RAW_TLS_TIMEOUT_MS / 1000} s` });
    }, RAW_TLS_TIMEOUT_MS);
    socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
    // Under TLS 1.3 the handshake completes on the client before the server has judged the (missing)
    // certificate: the refusal then arrives as an alert or a close.
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ refused: true, bytes, why: error.code ?? error.message });
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ refused: true, bytes, why: 'closed' });
    });
  });
  const failures: string[] = [];
  if (!outcome.refused) failures.push(`the X.509 listener did not refuse the connection (${outcome.why})`);
  if (outcome.bytes > 0)
    failures.push(`the X.509 listener sent ${outcome.bytes} bytes to a client without a certificate`);
  if (refusalsWith(options.gatewayLog, expectedCause) <= refusedBefore) {
    failures.push(`the gateway logged no tls-refused entry with cause ${expectedCause}`);
  }
  return {
    row,
    exitCode: outcome.refused ? 1 : 0,
    durationMs: Date.now() - started,
    failures,
    detail: outcome.refused
      ? `gateway: TLS refused before MQTT (${expectedCause}), no certificate sent (${outcome.why}), Lambda not invoked`
      : `gateway: a connection without a client certificate was not refused (${outcome.why})`,
  };
}

/** How many connections the X.509 listener has refused with `cause` so far. */
function refusalsWith(log: readonly GatewayLogEntry[], cause: string): number {
  return log.filter((entry) => entry.event === 'tls-refused' && entry.cause === cause).length;
}

/** `, CUSTOM_AUTH_X509 certificate 041be586d6a0… verified` for a decision of the X.509 listener, else nothing. */
export function certificateNote(decision: ConnectLogEntry): string {
  return decision.authentication === undefined
    ? ''
    : `, ${decision.authentication} certificate ${shortId(decision.clientCertificateId)} verified`;
}

/**
 * `gateway: TLS refused before MQTT (client-certificate-not-registered), certificate c05d53b573d7…, Lambda not
 * invoked` for a row whose certificate the X.509 listener refused, else `undefined`.
 */
export function refusedCertificateDetail(
  row: MatrixRow,
  gatewayLog: readonly GatewayLogEntry[],
): string | undefined {
  const certificate = row.expect.clientCertificate;
  if (certificate?.gateway !== 'refused' || certificate.id === undefined) return undefined;
  const refused = gatewayLog.find(
    (entry): entry is TlsRefusedLogEntry =>
      entry.event === 'tls-refused' && entry.clientCertificateId === certificate.id,
  );
  return refused === undefined
    ? undefined
    : `gateway: TLS refused before MQTT (${String(refused.cause)}), certificate ${shortId(certificate.id)}, Lambda not invoked`;
}

const shortId = (id: string | undefined): string => (id === undefined ? 'none' : `${id.slice(0, 12)}…`);
