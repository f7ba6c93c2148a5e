// Validates CSAF 2.0 documents with the BSI validator library
// (@secvisogram/csaf-validator-lib): the JSON schema and every mandatory
// test (CSAF 2.0 §6.1).
//
// usage: node csaf_validate.mjs NODE_MODULES_DIR FILE…
// Prints each failing test with its errors; exit 1 if any document fails.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [modules, ...files] = process.argv.slice(2);
const lib = (name) =>
  import(pathToFileURL(path.join(modules, '@secvisogram/csaf-validator-lib', name)).href);
const validate = (await lib('validate.js')).default;
const schemaTests = await lib('schemaTests.js');
const mandatoryTests = await lib('mandatoryTests.js');
const tests = [...Object.values(schemaTests), ...Object.values(mandatoryTests)];

let failed = 0;
for (const f of files) {
  const doc = JSON.parse(fs.readFileSync(f, 'utf8'));
  const result = await validate(tests, doc);
  if (!result.isValid) {
    failed += 1;
    for (const t of result.tests) {
      if (!t.isValid || t.errors.length) {
        console.error(`${f}: ${t.name}: ${JSON.stringify(t.errors)}`);
      }
    }
  } else {
    console.log(`${f}: valid (${result.tests.length} tests)`);
  }
}
process.exit(failed ? 1 : 0);
