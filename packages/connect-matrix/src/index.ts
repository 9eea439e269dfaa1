export * from './connect-matrix';
export * from './errors';
