// The cluster manifests of deploy/k8s: every object valid against the
// Kubernetes API schema with no unknown field, the references between them
// resolved (selectors, ConfigMap and Secret keys, volumes, ports), the
// settings ones the processes read, and the decisions the README relies on
// (workers dial every edge by a stable name, non-root read-only pods,
// worker<->edge traffic limited). Run: node --test tests/k8s/ (ctest k8s.validate).
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import {
    ROOT,
    K8S_DIR,
    loadManifests,
    strictValidate,
    podSpecOf,
    podLabelsOf,
    selects,
    variablesReadByCode,
} from "./manifests.mjs";

const m = loadManifests();
const all = [...m.docs, ...m.secrets];
const objs = m.docs.map((d) => d.obj);
const find = (kind, name) => {
    const o = [...objs, ...m.secrets.map((d) => d.obj)].find((x) => x.kind === kind && x.metadata?.name === name);
    assert.ok(o, `${kind} ${name} is defined`);
    return o;
};
const workloads = objs.filter((o) => podSpecOf(o));
const containersOf = (o) => [...(podSpecOf(o).initContainers ?? []), ...podSpecOf(o).containers];
const envOf = (c) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e]));
const config = find("ConfigMap", "threemin-config");
const edge = find("StatefulSet", "edge");
const worker = find("Deployment", "worker");

test("every YAML file of deploy/k8s is in the kustomization (or is the example Secrets)", () => {
    const listed = new Set(m.kustomization.resources);
    for (const f of m.yamlFiles) {
        if (f === "kustomization.yaml" || f === "secrets.example.yaml")
            continue;
        assert.ok(listed.has(f), `${f} is listed in kustomization.yaml`);
    }
    assert.ok(!listed.has("secrets.example.yaml"), "the example Secrets are never applied");
    assert.equal(m.kustomization.apiVersion, "kustomize.config.k8s.io/v1beta1");
    assert.equal(m.kustomization.kind, "Kustomization");
    // Only the fields used here, spelt as kustomize knows them.
    for (const k of Object.keys(m.kustomization))
        assert.ok(["apiVersion", "kind", "namespace", "resources", "images"].includes(k), `kustomization field ${k}`);
    for (const img of m.kustomization.images ?? []) {
        for (const k of Object.keys(img))
            assert.ok(["name", "newName", "newTag", "digest"].includes(k), `kustomization images field ${k}`);
        assert.ok(objs.some((o) => podSpecOf(o) && containersOf(o).some((c) => c.image.split(":")[0] === img.name)),
            `the image ${img.name} the kustomization replaces is used`);
    }
    assert.equal(m.kustomization.namespace, "threemin");
});

test("every object is valid against the Kubernetes schema, with no unknown field", async () => {
    assert.ok(all.length >= 15, "the manifests were read");
    for (const { file, obj } of all) {
        const errors = await strictValidate(obj);
        assert.deepEqual(errors, [], `${file}: ${obj.kind} ${obj.metadata?.name}`);
    }
});

test("the validator refuses broken copies of the real manifests", async () => {
    const mutations = {
        "a string where an integer goes": (o) => (o.spec.replicas = "two"),
        "a misspelt field": (o) => (o.spec.template.spec.containers[0].readinesProbe = { httpGet: { path: "/readyz", port: 8080 } }),
        "a required field missing": (o) => delete o.spec.template.spec.containers,
        "a malformed quantity": (o) => (o.spec.template.spec.containers[0].resources.limits.memory = "lots"),
        "a port number that is text": (o) => (o.spec.template.spec.containers[0].ports[0].containerPort = "http"),
        "a wrong enum value": (o) => (o.spec.podManagementPolicy = "AllAtOnce"),
        "an unknown kind": (o) => (o.kind = "StatefulSett"),
    };
    for (const [what, mutate] of Object.entries(mutations)) {
        const copy = structuredClone(edge);
        mutate(copy);
        const errors = await strictValidate(copy);
        assert.ok(errors.length > 0, `${what} is refused`);
    }
    const hpa = structuredClone(find("HorizontalPodAutoscaler", "worker"));
    hpa.spec.metrics[0].resource.target.averageUtilization = "70%";
    assert.notDeepEqual(await strictValidate(hpa), [], "an HPA target that is text is refused");
    const np = structuredClone(find("NetworkPolicy", "edge"));
    np.spec.ingress[1].from[0].podSelecter = np.spec.ingress[1].from[0].podSelector;
    assert.notDeepEqual(await strictValidate(np), [], "a misspelt NetworkPolicy selector is refused");
    const cm = structuredClone(config);
    cm.data.WORKER_THREADS = 4;
    assert.notDeepEqual(await strictValidate(cm), [], "a ConfigMap value that is not a string is refused");
});

test("every selector selects a workload, and ports and targets resolve", () => {
    const podOf = (sel) => workloads.filter((w) => selects(sel, podLabelsOf(w)));
    for (const o of objs) {
        if (o.kind === "Service") {
            const targets = podOf(o.spec.selector);
            assert.ok(targets.length > 0, `Service ${o.metadata.name} selects pods`);
            for (const p of o.spec.ports) {
                const names = targets.flatMap((w) => containersOf(w).flatMap((c) => (c.ports ?? []).map((x) => x.name)));
                assert.ok(names.includes(p.targetPort), `Service ${o.metadata.name} port ${p.name} targets a named port`);
            }
        }
        if (o.kind === "PodDisruptionBudget")
            assert.ok(podOf(o.spec.selector.matchLabels).length > 0, `PDB ${o.metadata.name} selects pods`);
        if (o.kind === "NetworkPolicy" && Object.keys(o.spec.podSelector).length)
            assert.ok(podOf(o.spec.podSelector.matchLabels).length > 0, `NetworkPolicy ${o.metadata.name} selects pods`);
        if (o.kind === "HorizontalPodAutoscaler")
            find(o.spec.scaleTargetRef.kind, o.spec.scaleTargetRef.name);
        if (o.spec?.selector?.matchLabels && podSpecOf(o))
            assert.ok(selects(o.spec.selector.matchLabels, podLabelsOf(o)), `${o.kind} ${o.metadata.name} selects its own pods`);
    }
    for (const w of workloads) {
        const spec = podSpecOf(w);
        const volumes = new Set((spec.volumes ?? []).map((v) => v.name));
        for (const c of containersOf(w)) {
            for (const vm of c.volumeMounts ?? [])
                assert.ok(volumes.has(vm.name), `${w.metadata.name}/${c.name} mounts a defined volume ${vm.name}`);
            const ports = new Set((c.ports ?? []).map((p) => p.name));
            for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe].filter(Boolean))
                if (probe.httpGet && typeof probe.httpGet.port === "string")
                    assert.ok(ports.has(probe.httpGet.port), `${w.metadata.name} probes a named port`);
        }
        for (const v of spec.volumes ?? []) {
            if (v.persistentVolumeClaim)
                find("PersistentVolumeClaim", v.persistentVolumeClaim.claimName);
            if (v.secret) {
                const s = find("Secret", v.secret.secretName);
                for (const it of v.secret.items ?? [])
                    assert.ok(it.key in s.stringData, `Secret ${s.metadata.name} has key ${it.key}`);
            }
        }
    }
});

test("every setting a container gets is one the process reads, from a key that exists", () => {
    const known = variablesReadByCode();
    assert.ok(known.has("EDGE_URLS") && known.has("DATABASE_URL"), "the variables were found in the sources");
    for (const w of workloads) {
        for (const c of containersOf(w)) {
            for (const e of c.env ?? []) {
                assert.ok(known.has(e.name), `${w.metadata.name}: ${e.name} is read by the code (typo?)`);
                const ref = e.valueFrom?.configMapKeyRef ?? e.valueFrom?.secretKeyRef;
                if (!ref)
                    continue;
                const src = e.valueFrom.configMapKeyRef ? find("ConfigMap", ref.name).data : find("Secret", ref.name).stringData;
                assert.ok(ref.key in src, `${w.metadata.name}: ${e.name} comes from an existing key ${ref.name}/${ref.key}`);
            }
        }
    }
    for (const [k, v] of Object.entries(config.data))
        assert.ok(known.has(k), `ConfigMap key ${k} (${v}) names a setting the processes read`);
    // Values inside the ranges common/config.c accepts.
    assert.match(config.data.PUBLIC_URL, /^https?:\/\/[^/?#]+/);
    for (const [k, lo, hi] of [["WORKER_THREADS", 1, 64], ["REQUEST_DEADLINE_MS", 100, 600000],
        ["STATEMENT_TIMEOUT_MS", 10, 600000], ["RETENTION_DAYS", 1, 3650]]) {
        const n = Number(config.data[k]);
        assert.ok(Number.isInteger(n) && n >= lo && n <= hi, `${k}=${config.data[k]} is within ${lo}..${hi}`);
    }
});

test("only the migration Job gets the owner's database URL; workers and jobs their own roles' passwords", () => {
    for (const w of workloads) {
        for (const c of containersOf(w)) {
            const env = envOf(c);
            const owner = env.DATABASE_URL?.valueFrom?.secretKeyRef?.key === "owner-url";
            assert.equal(owner, w.metadata.name === "migrate", `${w.metadata.name}: owner URL only in the migration Job`);
            if (w.metadata.name === "migrate")
                assert.deepEqual(c.args, ["/usr/local/bin/3min", "migrate"]);
        }
    }
    assert.equal(envOf(containersOf(worker)[0]).DATABASE_WORKER_PASSWORD.valueFrom.secretKeyRef.key, "worker-password");
    assert.equal(envOf(containersOf(find("Deployment", "jobs"))[0]).DATABASE_JOBS_PASSWORD.valueFrom.secretKeyRef.key, "jobs-password");
    assert.doesNotMatch(config.data.DATABASE_URL, /@/, "the shared DATABASE_URL carries no credentials");
});

test("workers dial every edge: EDGE_URLS lists each edge pod by its stable name", () => {
    const svc = find("Service", edge.spec.serviceName);
    assert.equal(svc.spec.clusterIP, "None", "the edges' Service for workers is headless");
    assert.equal(svc.spec.publishNotReadyAddresses, true,
        "edge names resolve before the edge is ready (it is ready only once a worker reached it)");
    assert.ok(selects(svc.spec.selector, podLabelsOf(edge)));
    const c = containersOf(edge)[0];
    const listen = envOf(c).WORKER_LISTEN.value.match(/^tcp:\/\/0\.0\.0\.0:(\d+)$/);
    assert.ok(listen, "the edge listens for workers on TCP on every address");
    const port = Number(listen[1]);
    assert.ok(c.ports.some((p) => p.name === "workers" && p.containerPort === port));
    assert.ok(svc.spec.ports.some((p) => p.port === port));
    const expected = Array.from({ length: edge.spec.replicas }, (_, i) =>
        `tcp://${edge.metadata.name}-${i}.${svc.metadata.name}:${port}`);
    assert.deepEqual(config.data.EDGE_URLS.split(",").map((s) => s.trim()), expected,
        "EDGE_URLS names exactly the StatefulSet's pods (change both together)");
    assert.equal(envOf(containersOf(worker)[0]).EDGE_URLS.valueFrom.configMapKeyRef.key, "EDGE_URLS");
    assert.ok(!objs.some((o) => o.kind === "HorizontalPodAutoscaler" && o.spec.scaleTargetRef.name === edge.metadata.name),
        "no autoscaler changes the edge count behind the workers' back");
});

test("probes, drains, autoscaling and disruption budgets", () => {
    const c = containersOf(edge)[0];
    assert.equal(c.readinessProbe.httpGet.path, "/readyz");
    assert.equal(c.livenessProbe.httpGet.path, "/healthz");
    const deadline = Number(config.data.REQUEST_DEADLINE_MS) / 1000;
    for (const w of workloads.filter((w) => w.kind !== "Job"))
        assert.ok(podSpecOf(w).terminationGracePeriodSeconds > deadline,
            `${w.metadata.name} may drain requests for longer than the request deadline`);
    const hpa = find("HorizontalPodAutoscaler", "worker");
    assert.equal(hpa.spec.scaleTargetRef.kind, "Deployment");
    assert.equal(hpa.spec.scaleTargetRef.name, "worker");
    assert.equal(hpa.spec.metrics[0].resource.name, "cpu");
    assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas > hpa.spec.minReplicas);
    assert.ok(containersOf(worker)[0].resources.requests.cpu, "CPU utilisation needs a CPU request");
    for (const name of ["edge", "worker"]) {
        const pdb = find("PodDisruptionBudget", name);
        assert.ok(pdb.spec.maxUnavailable === 1 || pdb.spec.minAvailable >= 1);
    }
    const job = find("Job", "migrate");
    assert.ok(job.spec.backoffLimit >= 1);
    assert.notEqual(podSpecOf(job).restartPolicy, "Always");
});

test("every pod runs as the image's non-root user with a read-only root file system", () => {
    const uid = Number(readFileSync(path.join(ROOT, "deploy/Dockerfile"), "utf8").match(/useradd[^\n]*--uid (\d+)/)[1]);
    const images = new Set();
    for (const w of workloads) {
        const spec = podSpecOf(w);
        const name = w.metadata.name;
        assert.equal(spec.securityContext.runAsNonRoot, true, `${name}: runAsNonRoot`);
        assert.equal(spec.securityContext.runAsUser, uid, `${name}: the image's user ${uid}`);
        assert.equal(spec.securityContext.seccompProfile.type, "RuntimeDefault", `${name}: seccomp`);
        assert.equal(spec.automountServiceAccountToken, false, `${name}: no API token`);
        assert.ok(!spec.hostNetwork && !spec.hostPID && !spec.hostIPC, `${name}: no host namespaces`);
        for (const c of containersOf(w)) {
            const sc = c.securityContext;
            assert.equal(sc.readOnlyRootFilesystem, true, `${name}/${c.name}: read-only root`);
            assert.equal(sc.allowPrivilegeEscalation, false, `${name}/${c.name}: no privilege escalation`);
            assert.deepEqual(sc.capabilities.drop, ["ALL"], `${name}/${c.name}: no capabilities`);
            assert.ok(!sc.privileged, `${name}/${c.name}: not privileged`);
            assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory,
                `${name}/${c.name}: CPU and memory requests, memory limit`);
            images.add(c.image);
            assert.ok(!c.command && /^\/usr\/local\/bin\/(edge|worker|jobs|3min)$/.test(c.args?.[0]),
                `${name}/${c.name}: one of the image's programs as args, behind the image's entry point`);
            // A process that writes under STATE_DIR needs it writable.
            const state = envOf(c).STATE_DIR?.value;
            if (state)
                assert.ok((c.volumeMounts ?? []).some((v) => v.mountPath === state && !v.readOnly), `${name}: STATE_DIR is writable`);
        }
    }
    assert.equal(images.size, 1, "one image for every process");
    const ns = find("Namespace", "threemin");
    assert.equal(ns.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
});

test("network policies: deny by default; only workers reach the edges' worker port", () => {
    const pols = objs.filter((o) => o.kind === "NetworkPolicy");
    const deny = pols.find((p) => Object.keys(p.spec.podSelector).length === 0 && !p.spec.ingress && !p.spec.egress);
    assert.ok(deny && deny.spec.policyTypes.includes("Ingress") && deny.spec.policyTypes.includes("Egress"), "a default deny");
    const port = Number(envOf(containersOf(edge)[0]).WORKER_LISTEN.value.split(":").pop());
    const edgeLabels = podLabelsOf(edge);
    const workerLabels = podLabelsOf(worker);
    // Every ingress rule of a policy selecting the edges that opens the worker port must name only worker pods.
    for (const p of pols.filter((p) => selects(p.spec.podSelector.matchLabels, edgeLabels) || !Object.keys(p.spec.podSelector).length)) {
        for (const rule of p.spec.ingress ?? []) {
            const opens = !rule.ports || rule.ports.some((x) => x.port === port);
            if (!opens)
                continue;
            assert.ok(rule.from?.length, `${p.metadata.name}: the worker port is not open to everyone`);
            for (const peer of rule.from)
                assert.ok(peer.podSelector && !peer.namespaceSelector && !peer.ipBlock && selects(peer.podSelector.matchLabels, workerLabels),
                    `${p.metadata.name}: only worker pods reach port ${port}`);
        }
    }
    // The workers may dial the edges' worker port.
    const wp = pols.find((p) => selects(p.spec.podSelector.matchLabels, workerLabels));
    assert.ok(wp.spec.egress.some((r) => r.ports?.some((x) => x.port === port) &&
        r.to?.some((t) => selects(t.podSelector?.matchLabels, edgeLabels))), "workers reach the edges on the worker port");
    assert.deepEqual(wp.spec.ingress, [], "nothing connects to a worker");
    // Every workload is selected by a policy of its own.
    for (const w of workloads)
        assert.ok(pols.some((p) => selects(p.spec.podSelector.matchLabels, podLabelsOf(w))), `${w.metadata.name} has a policy`);
});

// The whole suite, run on a copy of deploy/k8s with one defect, must fail.
test("the suite fails on a copy of the manifests with one defect", { skip: !!process.env.K8S_MANIFESTS_DIR }, () => {
    const defects = {
        "a misspelt probe": ["edge.yaml", "readinessProbe:", "readinesProbe:", /unknown field .*readinesProbe/],
        "a replica count that is text": ["worker.yaml", "replicas: 2", "replicas: two", /replicas must be integer/],
        "a setting no process reads": ["worker.yaml", "name: DATABASE_WORKER_PASSWORD", "name: DATABASE_WORKER_PASSWRD",
            /DATABASE_WORKER_PASSWRD is read by the code/],
        "an edge the workers do not dial": ["config.yaml", ",tcp://edge-1.edge-workers:7000", "", /EDGE_URLS names exactly/],
        "a YAML syntax error": ["jobs.yaml", "replicas: 1", "replicas: [1", /jobs\.yaml/],
    };
    for (const [what, [file, from, to, expect]] of Object.entries(defects)) {
        const dir = mkdtempSync(path.join(os.tmpdir(), "k8s-defect-"));
        try {
            cpSync(K8S_DIR, dir, { recursive: true });
            const text = readFileSync(path.join(dir, file), "utf8");
            assert.ok(text.includes(from), `${file} contains ${from}`);
            writeFileSync(path.join(dir, file), text.replace(from, to));
            // NODE_TEST_CONTEXT would make the child report into this run instead of exiting with its result.
            const { NODE_TEST_CONTEXT, ...env } = process.env;
            const r = spawnSync(process.execPath, ["--test", new URL(import.meta.url).pathname], {
                env: { ...env, K8S_MANIFESTS_DIR: dir },
                encoding: "utf8",
            });
            assert.notEqual(r.status, 0, `${what}: the suite fails`);
            assert.match(r.stdout + r.stderr, expect, `${what}: the failure names it`);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    }
});
