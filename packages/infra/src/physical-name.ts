import { createHash } from 'node:crypto';
import { Stack, Token } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** How {@link physicalName} shapes a name. */
export interface PhysicalNameOptions {
  /** Longest name the service accepts. */
  readonly maxLength: number;
  /** The body of a regular-expression character class (`[...]`) listing every character the service accepts. */
  readonly allowedChars: string;
}

/**
 * A readable, stable physical name for the resource `childId` of `scope`: the stack name followed by the
 * construct path inside the stack (`IotCustomAuthorizerStack-CustomAuthorizer-UnsignedAuthorizer`). It only
 * changes when the stack name or a construct id changes, so clients and local tooling can rely on it, and two
 * stacks never collide. Characters the service does not accept become `-`; a name too long keeps its start
 * and ends with a hash of the full name, so it stays unique.
 */
export function physicalName(scope: IConstruct, childId: string, options: PhysicalNameOptions): string {
  const stack = Stack.of(scope);
  const scopes = scope.node.scopes;
  const parts = [...scopes.slice(scopes.indexOf(stack) + 1).map((s) => s.node.id), childId];
  const stackName = Token.isUnresolved(stack.stackName) ? stack.node.id : stack.stackName;
  const disallowed = new RegExp(`[^${options.allowedChars}]`, 'g');
  const full = [stackName, ...parts].join('-').replace(disallowed, '-');
  if (full.length <= options.maxLength) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8).toUpperCase();
  return `${full.slice(0, options.maxLength - hash.length - 1)}-${hash}`;
}
