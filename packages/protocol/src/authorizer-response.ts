import { AUTHORIZER_RESPONSE_LIMITS as LIMITS } from './constants';
import { isRecord } from './is-record';

/**
 * Every way a custom authorizer's response breaks AWS IoT's rules, as readable sentences; empty when it is
 * valid. The Lambda's tests hold it to these rules and local-iot refuses a connection for any of them, naming it.
 */
export function authorizerResponseProblems(r: unknown): string[] {
  if (!isRecord(r)) return ['response is not a JSON object'];
  const problems: string[] = [];
  if (typeof r.isAuthenticated !== 'boolean') problems.push('isAuthenticated is not a boolean');
  if (typeof r.principalId !== 'string') {
    problems.push('principalId is not a string');
  } else if (!LIMITS.principalIdPattern.test(r.principalId)) {
    problems.push(`principalId '${r.principalId}' does not match ${LIMITS.principalIdPattern.source}`);
  }
  for (const field of ['disconnectAfterInSeconds', 'refreshAfterInSeconds'] as const) {
    const value = r[field];
    if (value === undefined && r.isAuthenticated === false) continue;
    if (
      !Number.isInteger(value) ||
      (value as number) < LIMITS.minTtlSeconds ||
      (value as number) > LIMITS.maxTtlSeconds
    ) {
      problems.push(
        `${field} must be an integer between ${LIMITS.minTtlSeconds} and ${LIMITS.maxTtlSeconds}, but ${JSON.stringify(value)} was returned`,
      );
    }
  }
  const documents = r.policyDocuments;
  if (!Array.isArray(documents)) {
    if (!(documents === undefined && r.isAuthenticated === false))
      problems.push('policyDocuments is not an array');
  } else {
    if (documents.length > LIMITS.maxPolicyDocuments) {
      problems.push(
        `policyDocuments has ${documents.length} documents; at most ${LIMITS.maxPolicyDocuments} are allowed`,
      );
    }
    documents.forEach((document: unknown, index) => {
      const text = typeof document === 'string' ? document : JSON.stringify(document);
      if (typeof document !== 'string' && (typeof document !== 'object' || document === null)) {
        problems.push(`policyDocuments[${index}] is neither a JSON string nor an object`);
      } else if (text.length > LIMITS.maxPolicyDocumentChars) {
        problems.push(
          `policyDocuments[${index}] has ${text.length} characters; at most ${LIMITS.maxPolicyDocumentChars} are allowed`,
        );
      }
    });
  }
  return problems;
}
