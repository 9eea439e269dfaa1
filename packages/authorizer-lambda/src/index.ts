// The Lambda entry point is `handler.ts` (not re-exported here: importing it reads the environment).
export * from './authorizer';
export * from './config';
export * from './match-credentials';
export * from './decision-log';
export * from './decision-reason';
export * from './device-credentials-cache';
export * from './errors';
