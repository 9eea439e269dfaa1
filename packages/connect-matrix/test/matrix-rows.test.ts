import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { decodeToken, TOKEN_SIGNING_KEY_FILES } from '@iot-custom-auth/protocol';
import { connectMatrixRows, tamperedToken } from '../src/connect-matrix';

/**
 * `npm start -- -c clientIdPrefix=dev-` serves a stack whose policies allow `client/dev-*` only: every row that
 * expects to be admitted, and every refusal that is about something else than the prefix, must use it.
 */
describe('connectMatrixRows under another client id prefix', () => {
  const rows = connectMatrixRows({
    tokenKeyName: 'deviceToken',
    tampered: { token: 'token', signature: 'signature' },
    clientIdPrefix: 'dev-',
  });

  it('gives every row but the outside-prefix one a client id under the prefix', () => {
    const outside = rows.filter((row) => !row.clientId.startsWith('dev-'));
    expect(outside.map((row) => row.name)).toEqual(['client id outside dev-*']);
    expect(outside[0]?.clientId).toMatch(/^prod-outside-/);
  });

  it('names devices (user names) under the prefix too', () => {
    const usernames = rows.flatMap((row) => {
      const at = row.args.indexOf('--custom_auth_username');
      return at === -1 ? [] : [row.args[at + 1]];
    });
    expect(usernames.length).toBeGreaterThan(0);
    for (const username of usernames) expect(username).toMatch(/^dev-/);
  });

  it('picks another outside prefix when the stack itself uses prod-', () => {
    const prodRows = connectMatrixRows({
      tokenKeyName: 'deviceToken',
      tampered: { token: 'token', signature: 'signature' },
      clientIdPrefix: 'prod-',
    });
    const outside = prodRows.find((row) => row.name === 'client id outside prod-*');
    expect(outside?.clientId).toMatch(/^other-outside-/);
  });
});

it('signs the tampered token for a client id under the prefix, so only its signature is wrong', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'matrix-rows-'));
  try {
    const keys = path.join(root, TOKEN_SIGNING_KEY_FILES.directory);
    mkdirSync(keys, { mode: 0o700 });
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(
      path.join(keys, TOKEN_SIGNING_KEY_FILES.privateKey),
      privateKey.export({ type: 'pkcs8', format: 'pem' }),
      { mode: 0o600 },
    );
    const decoded = decodeToken(tamperedToken(root, 'dev-').token);
    expect(decoded.ok && decoded.claims.clientId).toBe('dev-tampered');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
