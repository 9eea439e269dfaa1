// `npm start`: the local end-to-end run (synth, local-iot, connect matrix). local-iot is not built yet.
console.error(
  'npm start: the local gateway (packages/local-iot) is not implemented yet. Run `npm test` for now.',
);
process.exitCode = 1;
