// The Lambda entry point is `handler.ts` (not re-exported here: importing it reads the environment).
export * from './authorizer';
export * from './config';
export * from './match-device-password';
export * from './decide-x509';
export * from './decision-log';
export * from './decision-reason';
export * from './master-secret-cache';
export * from './errors';
