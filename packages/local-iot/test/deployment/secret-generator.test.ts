import fc from 'fast-check';
import { DeploymentError } from '../../src/errors';
import { generateSecretString } from '../../src/deployment/secret-generator';

const WHERE = 'Resources.S.Properties.GenerateSecretString';
const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/;

describe('generateSecretString', () => {
  it('generates 32 characters with every type by default', () => {
    const value = generateSecretString({}, WHERE);
    expect(value).toHaveLength(32);
    expect(value).toMatch(/[a-z]/);
    expect(value).toMatch(/[A-Z]/);
    expect(value).toMatch(/[0-9]/);
    expect(value).toMatch(PUNCTUATION);
    expect(value).not.toMatch(/ /);
  });

  it('puts the password under GenerateStringKey in the JSON template', () => {
    const value = JSON.parse(
      generateSecretString(
        {
          SecretStringTemplate: '{"username":"device"}',
          GenerateStringKey: 'password',
          PasswordLength: 20,
          ExcludePunctuation: true,
        },
        WHERE,
      ),
    ) as Record<string, string>;
    expect(Object.keys(value)).toEqual(['username', 'password']);
    expect(value.username).toBe('device');
    expect(value.password).toMatch(/^[A-Za-z0-9]{20}$/);
  });

  it('honours every exclusion, each included type and the length (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          PasswordLength: fc.integer({ min: 5, max: 64 }),
          ExcludeLowercase: fc.boolean(),
          ExcludeUppercase: fc.boolean(),
          ExcludeNumbers: fc.boolean(),
          ExcludePunctuation: fc.boolean(),
          IncludeSpace: fc.boolean(),
          ExcludeCharacters: fc.constantFrom('', 'aA0', 'xyz!'),
        }),
        (spec) => {
          fc.pre(
            !(
              spec.ExcludeLowercase &&
              spec.ExcludeUppercase &&
              spec.ExcludeNumbers &&
              spec.ExcludePunctuation &&
              !spec.IncludeSpace
            ),
          );
          const value = generateSecretString(spec, WHERE);
          expect([...value]).toHaveLength(spec.PasswordLength);
          for (const c of spec.ExcludeCharacters) expect(value).not.toContain(c);
          expect(/[a-z]/.test(value)).toBe(!spec.ExcludeLowercase);
          expect(/[A-Z]/.test(value)).toBe(!spec.ExcludeUppercase);
          expect(/[0-9]/.test(value)).toBe(!spec.ExcludeNumbers);
          expect(PUNCTUATION.test(value)).toBe(!spec.ExcludePunctuation);
          expect(value.includes(' ')).toBe(spec.IncludeSpace);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses settings Secrets Manager would reject, naming the property', () => {
    const error = (spec: object): Error => {
      try {
        generateSecretString(spec, WHERE);
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected an error');
    };
    expect(error({ PasswordLength: 0 })).toBeInstanceOf(DeploymentError);
    expect(error({ PasswordLength: 0 }).message).toBe(
      `${WHERE}.PasswordLength must be an integer between 1 and 4096, but 0 was given`,
    );
    expect(error({ PasswordLength: 2 }).message).toBe(
      `${WHERE}.PasswordLength 2 is too short to include each of 4 character types`,
    );
    expect(
      error({
        ExcludeLowercase: true,
        ExcludeUppercase: true,
        ExcludeNumbers: true,
        ExcludePunctuation: true,
      }).message,
    ).toBe(`${WHERE} excludes every character: nothing is left to generate a password from`);
    expect(error({ GenerateStringKey: 'password' }).message).toBe(
      `${WHERE}: SecretStringTemplate and GenerateStringKey must be given together`,
    );
    expect(error({ GenerateStringKey: 'password', SecretStringTemplate: '[1]' }).message).toBe(
      `${WHERE}.SecretStringTemplate must be a JSON object and GenerateStringKey a string`,
    );
  });
});
