// manifests — loading deploy/k8s and validating Kubernetes objects against
// the API's OpenAPI schema, offline.
//
// The schema checks come from kubernetes-models (validators generated from
// the Kubernetes OpenAPI document: types, required fields, enums, formats
// such as quantities). Those validators accept unknown fields, as the API
// server's non-strict decoding would, so a misspelt field (readinesProbe)
// would pass and be silently dropped by the cluster. strictValidate also
// rejects them, like `kubectl --validate=strict` or kubeconform -strict: it
// hands the validator a proxy of the object that records every property the
// schema looks at, and reports the properties it never looked at.
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
// K8S_MANIFESTS_DIR: check another copy (the suite's own negative tests use it).
export const K8S_DIR = process.env.K8S_MANIFESTS_DIR || path.join(ROOT, "deploy/k8s");

/* Every document of one YAML file; a syntax error throws naming the file. */
export function loadFile(file) {
    const docs = parseAllDocuments(readFileSync(file, "utf8"), { prettyErrors: true });
    const out = [];
    for (const d of docs) {
        if (d.errors.length)
            throw new Error(`${path.relative(ROOT, file)}: ${d.errors.map((e) => e.message).join("; ")}`);
        const obj = d.toJS({ maxAliasCount: 0 });
        if (obj !== null && obj !== undefined)
            out.push({ file: path.relative(ROOT, file), obj });
    }
    return out;
}

/* The kustomization, the documents of every resource it lists, and the
 * example Secrets (which the operator creates, so they are not listed). */
export function loadManifests(dir = K8S_DIR) {
    const [kust] = loadFile(path.join(dir, "kustomization.yaml"));
    const docs = [];
    for (const r of kust.obj.resources ?? [])
        docs.push(...loadFile(path.join(dir, r)));
    const secrets = loadFile(path.join(dir, "secrets.example.yaml"));
    const yamlFiles = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
    return { kustomization: kust.obj, docs, secrets, yamlFiles };
}

/* kubernetes-models' module of an apiVersion/kind ("apps/v1" -> apps/v1/Deployment). */
async function modelOf(apiVersion, kind) {
    if (typeof apiVersion !== "string" || typeof kind !== "string" || !/^[A-Za-z0-9]+$/.test(kind))
        throw new Error("apiVersion and kind must be strings");
    const parts = apiVersion.split("/");
    const spec = parts.length === 1 ? `kubernetes-models/${parts[0]}/${kind}` : `kubernetes-models/${apiVersion}/${kind}`;
    let mod;
    try {
        mod = await import(spec);
    } catch {
        throw new Error(`unknown apiVersion/kind ${apiVersion}/${kind}`);
    }
    if (typeof mod[kind] !== "function")
        throw new Error(`unknown apiVersion/kind ${apiVersion}/${kind}`);
    return mod[kind];
}

const isPlain = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

/* A deep proxy of obj recording, per object, the keys that were read. */
function recorder(obj) {
    const reads = new Map();
    const proxies = new WeakMap();
    const wrap = (v) => {
        if (v === null || typeof v !== "object")
            return v;
        if (proxies.has(v))
            return proxies.get(v);
        if (isPlain(v))
            reads.set(v, new Set());
        const p = new Proxy(v, {
            get(target, key, receiver) {
                if (typeof key === "string" && isPlain(target))
                    reads.get(target).add(key);
                const r = Reflect.get(target, key, receiver);
                return typeof key === "string" ? wrap(r) : r;
            },
        });
        proxies.set(v, p);
        return p;
    };
    return { proxy: wrap(obj), reads };
}

function unreadKeys(obj, reads, at, out) {
    if (Array.isArray(obj)) {
        obj.forEach((v, i) => unreadKeys(v, reads, `${at}/${i}`, out));
        return;
    }
    if (!isPlain(obj))
        return;
    const seen = reads.get(obj);
    for (const k of Object.keys(obj)) {
        if (!seen || !seen.has(k))
            out.push(`${at}/${k}`);
        else
            unreadKeys(obj[k], reads, `${at}/${k}`, out);
    }
}

/* Validates one object against the schema of its apiVersion/kind; returns
 * a list of errors (empty when valid). */
export async function strictValidate(obj) {
    if (!isPlain(obj))
        return ["a manifest must be a mapping"];
    let Model;
    try {
        Model = await modelOf(obj.apiVersion, obj.kind);
    } catch (e) {
        return [e.message];
    }
    const { proxy, reads } = recorder(obj);
    try {
        // The model's validate() runs the generated validator on `this`.
        Model.prototype.validate.call(proxy);
    } catch (e) {
        return [e.message];
    }
    const unknown = [];
    unreadKeys(obj, reads, "", unknown);
    return unknown.map((p) => `unknown field ${p}`);
}

/* The pod template of a workload, or null. */
export function podSpecOf(obj) {
    if (["Deployment", "StatefulSet", "DaemonSet", "Job"].includes(obj.kind))
        return obj.spec?.template?.spec ?? null;
    if (obj.kind === "Pod")
        return obj.spec ?? null;
    return null;
}

export function podLabelsOf(obj) {
    return obj.spec?.template?.metadata?.labels ?? {};
}

/* True if a matchLabels selector selects these labels. */
export function selects(matchLabels, labels) {
    const entries = Object.entries(matchLabels ?? {});
    return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

/* Every environment variable name the C processes read: getenv("X") and
 * config's env_int("X", ...) calls in common/ and services/. */
export function variablesReadByCode() {
    const names = new Set();
    for (const dir of ["common", "services/edge", "services/worker", "services/jobs", "services/admin"]) {
        const abs = path.join(ROOT, dir);
        for (const f of readdirSync(abs).filter((f) => f.endsWith(".c"))) {
            const text = readFileSync(path.join(abs, f), "utf8");
            for (const m of text.matchAll(/\b(?:getenv|env_int)\(\s*"([A-Z][A-Z0-9_]*)"/g))
                names.add(m[1]);
        }
    }
    return names;
}
