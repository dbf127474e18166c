// deploy/k8s, checked without a cluster: kustomize renders it, kubeconform validates every rendered
// resource against the Kubernetes JSON schemas (strict: an unknown field is an error) for the
// oldest and newest Kubernetes versions the manifests target, and the checks a schema cannot make
// hold — Service selectors and target ports meet pods, every referenced PVC/ConfigMap/Secret is
// there, the validators are a StatefulSet of 4 with its headless Service, probes call the
// service's own health RPC, the bootstrap's instance table matches the workloads, every command
// is a script of the image with flags its CLI knows.
// The tools come from the registries (deploy/k8s/validate-tools.sh: kustomize and kubeconform from
// the Go module proxy, the schemas from the PyPI wheel kubernetes-validate), cached under
// ~/.cache/stoq. Without Go or pip the test is skipped, saying why, unless
// STOQ_REQUIRE_K8S_TOOLS=1 (CI), which makes that a failure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

const ROOT = join(__dirname, '..', '..');
const K8S = join(ROOT, 'deploy', 'k8s');
const REQUIRE = process.env['STOQ_REQUIRE_K8S_TOOLS'] === '1';
const NAMESPACE = 'stoq';
const STOQ_UID = 10001; // the image's `stoq` user (docker/Dockerfile)

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;
interface Tools {
  kustomize: string;
  kubeconform: string;
  schemas: string;
  kubernetes_versions: string;
}

/** The tools' paths, or why they cannot be had (validate-tools.sh exits 3 for a missing Go/pip). */
function installTools(): { tools: Tools } | { unavailable: string } {
  const r = spawnSync('bash', [join(K8S, 'validate-tools.sh')], { encoding: 'utf8', timeout: 900_000 });
  if (r.status === 3) return { unavailable: r.stderr.trim().split('\n').at(-1) ?? 'validate-tools.sh: a tool is missing' };
  if (r.status !== 0) throw new Error(`deploy/k8s/validate-tools.sh exited ${r.status ?? r.signal}:\n${r.stderr.slice(-3000)}`);
  const out = Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  return { tools: out as unknown as Tools };
}

/** Renders a kustomization directory; the parsed resources, or throws with kustomize's stderr. */
function render(kustomize: string, dir: string): Obj[] {
  const r = spawnSync(kustomize, ['build', dir], { encoding: 'utf8', maxBuffer: 32 << 20 });
  if (r.status !== 0) throw new Error(`kustomize build ${dir} exited ${r.status}: ${r.stderr}`);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj).filter((d) => d !== null);
}

const podSpec = (w: Obj): Obj => w['spec']['template']['spec'];
const allContainers = (w: Obj): Obj[] => [...(podSpec(w)['initContainers'] ?? []), ...podSpec(w)['containers']];
const argOf = (args: string[], flag: string): string | undefined => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
const argsOf = (args: string[], flag: string): string[] => args.flatMap((a, i) => (args[i - 1] === flag ? [a] : []));
const labelsMatch = (selector: Obj, labels: Obj): boolean => Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** The problems the schema cannot see; [] when the rendered set is consistent. */
function semanticProblems(docs: Obj[]): string[] {
  const problems: string[] = [];
  const of = (kind: string) => docs.filter((d) => d['kind'] === kind);
  const names = (kind: string) => new Set(of(kind).map((d) => d['metadata']['name']));
  const workloads = docs.filter((d) => ['StatefulSet', 'Deployment', 'DaemonSet', 'Job'].includes(d['kind']));
  const where = (w: Obj) => `${w['kind']} ${w['metadata']['name']}`;

  // Namespace: one, and everything else in it.
  if (!names('Namespace').has(NAMESPACE)) problems.push(`no Namespace ${NAMESPACE}`);
  for (const d of docs) if (d['kind'] !== 'Namespace' && d['metadata']['namespace'] !== NAMESPACE) problems.push(`${d['kind']} ${d['metadata']['name']} is not in namespace ${NAMESPACE}`);

  // Services: a selector that meets a pod template, target ports that are container ports with
  // the same protocol, IPv6 single-stack (STOQ binds only IPv6).
  for (const s of of('Service')) {
    const name = s['metadata']['name'];
    const sel = s['spec']['selector'] ?? {};
    if (Object.keys(sel).length === 0) problems.push(`Service ${name} has no selector`);
    const pods = workloads.filter((w) => labelsMatch(sel, w['spec']['template']['metadata']['labels']));
    if (pods.length === 0) problems.push(`Service ${name}: selector ${JSON.stringify(sel)} matches no pod template`);
    if (s['spec']['ipFamilyPolicy'] !== 'SingleStack' || JSON.stringify(s['spec']['ipFamilies']) !== '["IPv6"]') problems.push(`Service ${name} is not IPv6 single-stack`);
    for (const p of s['spec']['ports'] ?? []) {
      const target = p['targetPort'] ?? p['port'];
      for (const w of pods) {
        const ports = podSpec(w)['containers'].flatMap((c: Obj) => c['ports'] ?? []);
        const hit = ports.find((cp: Obj) => (typeof target === 'string' ? cp['name'] === target : cp['containerPort'] === target) && (cp['protocol'] ?? 'TCP') === (p['protocol'] ?? 'TCP'));
        if (!hit) problems.push(`Service ${name} port ${p['name']} targets ${target}/${p['protocol'] ?? 'TCP'}, not a container port of ${where(w)}`);
      }
    }
  }

  for (const w of workloads) {
    const spec = podSpec(w);
    const claimTemplates = new Set((w['spec']['volumeClaimTemplates'] ?? []).map((t: Obj) => t['metadata']['name']));
    const volumes = new Map<string, Obj>((spec['volumes'] ?? []).map((v: Obj) => [v['name'], v]));
    // Every referenced PVC, ConfigMap and Secret exists; every mount names a volume.
    for (const v of volumes.values()) {
      if (v['persistentVolumeClaim'] && !names('PersistentVolumeClaim').has(v['persistentVolumeClaim']['claimName'])) problems.push(`${where(w)}: volume ${v['name']} claims a missing PVC ${v['persistentVolumeClaim']['claimName']}`);
      if (v['configMap'] && !names('ConfigMap').has(v['configMap']['name'])) problems.push(`${where(w)}: volume ${v['name']} uses a missing ConfigMap ${v['configMap']['name']}`);
      if (v['secret'] && !names('Secret').has(v['secret']['secretName'])) problems.push(`${where(w)}: volume ${v['name']} uses a missing Secret ${v['secret']['secretName']}`);
    }
    for (const c of allContainers(w)) {
      for (const m of c['volumeMounts'] ?? []) if (!volumes.has(m['name']) && !claimTemplates.has(m['name'])) problems.push(`${where(w)}/${c['name']}: mount ${m['name']} names no volume`);
      for (const e of c['env'] ?? []) {
        const ref = e['valueFrom']?.['secretKeyRef'] ?? e['valueFrom']?.['configMapKeyRef'];
        if (ref && !names(e['valueFrom']['secretKeyRef'] ? 'Secret' : 'ConfigMap').has(ref['name'])) problems.push(`${where(w)}/${c['name']}: env ${e['name']} refers to a missing ${ref['name']}`);
      }
      // Resources, and no root.
      if (!c['resources']?.['requests']?.['cpu'] || !c['resources']?.['requests']?.['memory'] || !c['resources']?.['limits']?.['cpu'] || !c['resources']?.['limits']?.['memory']) problems.push(`${where(w)}/${c['name']}: no cpu/memory requests and limits`);
      if (c['securityContext']?.['allowPrivilegeEscalation'] !== false || JSON.stringify(c['securityContext']?.['capabilities']?.['drop']) !== '["ALL"]') problems.push(`${where(w)}/${c['name']}: privilege escalation allowed or capabilities kept`);
    }
    const sc = spec['securityContext'] ?? {};
    if (sc['runAsNonRoot'] !== true || sc['runAsUser'] !== STOQ_UID || sc['fsGroup'] !== STOQ_UID) problems.push(`${where(w)}: not run as the image's stoq user ${STOQ_UID} (runAsNonRoot, runAsUser, fsGroup)`);
    // Probes: the service's own health RPC over STOQ, at its own port, with its own identity.
    for (const c of spec['containers'] as Obj[]) {
      const stoqPort = (c['ports'] ?? []).find((p: Obj) => p['name'] === 'stoq');
      if (!stoqPort) continue;
      for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
        const cmd: string[] = c[kind]?.['exec']?.['command'] ?? [];
        const svc = /^([a-z0-9-]+)\/health$/.exec(cmd[3] ?? '')?.[1];
        const identity = argOf(cmd, '--identity') ?? '';
        const mounted = (c['volumeMounts'] ?? []).some((m: Obj) => m['name'] === 'data' && (identity === m['mountPath'] || identity.startsWith(`${m['mountPath']}/`)));
        if (cmd.slice(0, 3).join(' ') !== 'node apps/stoq-cli/bin/stoq.js call' || !svc) problems.push(`${where(w)}/${c['name']}: ${kind} is not \`stoq call <service>/health\``);
        else if (argOf(cmd, '--target') !== `[::1]:${stoqPort['containerPort']}` || argOf(cmd, '--server-name') !== `${svc}.hypermesh` || !mounted) problems.push(`${where(w)}/${c['name']}: ${kind} calls ${svc} elsewhere than its own port, name or identity: ${cmd.join(' ')}`);
      }
    }
  }

  // The validators: a StatefulSet of 4, its serviceName a headless Service over them, started in
  // parallel (all four enroll before the genesis exists), each with its own volume.
  const validators = of('StatefulSet').find((s) => s['metadata']['name'] === 'validator');
  if (!validators) problems.push('no StatefulSet validator');
  else {
    if (validators['spec']['replicas'] !== 4) problems.push(`StatefulSet validator has ${validators['spec']['replicas']} replicas, not 4`);
    if (validators['spec']['podManagementPolicy'] !== 'Parallel') problems.push('StatefulSet validator is not podManagementPolicy: Parallel (the genesis needs all four enrolled first)');
    if ((validators['spec']['volumeClaimTemplates'] ?? []).length === 0) problems.push('StatefulSet validator has no volumeClaimTemplates');
    const pdb = of('PodDisruptionBudget').find((p) => labelsMatch(p['spec']['selector']['matchLabels'] ?? {}, validators['spec']['template']['metadata']['labels']));
    if (pdb?.['spec']['maxUnavailable'] !== 1) problems.push('no PodDisruptionBudget keeps 3 of the 4 validators up');
    const headless = of('Service').find((s) => s['metadata']['name'] === validators['spec']['serviceName']);
    if (!headless) problems.push(`StatefulSet validator: serviceName ${validators['spec']['serviceName']} is no Service`);
    else {
      if (headless['spec']['clusterIP'] !== 'None') problems.push(`Service ${headless['metadata']['name']} (the validators' serviceName) is not headless`);
      if (!labelsMatch(headless['spec']['selector'] ?? {}, validators['spec']['template']['metadata']['labels'])) problems.push('the headless Service does not select the validators');
    }
  }

  // The bootstrap: the broker's INSTANCE=SERVICE table is exactly the instances the pods ask for.
  const fromPods = new Map<string, string>();
  for (const w of workloads) {
    for (const c of podSpec(w)['initContainers'] ?? []) {
      const a: string[] = c['args'] ?? [];
      if (a[1] !== 'init') continue;
      const service = argOf(a, '--service')!;
      const prefix = argOf(a, '--ordinal-instance');
      const instances = prefix ? Array.from({ length: w['spec']['replicas'] }, (_, i) => `${prefix}-${i + 1}`) : [argOf(a, '--instance')!];
      for (const i of instances) fromPods.set(i, service);
    }
  }
  const broker = workloads.flatMap((w) => allContainers(w)).find((c) => (c['args'] ?? [])[1] === 'broker');
  if (!broker) problems.push('no broker container');
  else {
    const table = new Map(argsOf(broker['args'], '--instance').map((s) => s.split('=') as [string, string]));
    const fmt = (m: Map<string, string>) => JSON.stringify([...m].sort());
    if (fmt(table) !== fmt(fromPods)) problems.push(`the broker's --instance table ${fmt(table)} differs from the pods' instances ${fmt(fromPods)}`);
    const nValidators = [...fromPods.values()].filter((s) => s === 'hypermesh').length;
    if (argOf(broker['args'], '--validators') !== String(nValidators)) problems.push(`the broker expects --validators ${argOf(broker['args'], '--validators')}, the pods have ${nValidators}`);
  }
  // Caesar pays the validators by instance name: the same names.
  const caesar = workloads.flatMap((w) => podSpec(w)['containers']).find((c: Obj) => c['name'] === 'caesar');
  const paid = argsOf(caesar?.['args'] ?? [], '--validator-account').map((s) => s.split('=')[0]).sort();
  const hm = [...fromPods].filter(([, s]) => s === 'hypermesh').map(([i]) => i).sort();
  if (JSON.stringify(paid) !== JSON.stringify(hm)) problems.push(`caesar --validator-account names ${paid.join(', ')}, the validators are ${hm.join(', ')}`);
  return problems;
}

const resolved = installTools();
const unavailable = 'unavailable' in resolved ? resolved.unavailable : null;

if (unavailable && !REQUIRE) {
  console.warn(`Kubernetes manifests skipped: ${unavailable} (STOQ_REQUIRE_K8S_TOOLS=1 makes this a failure)`);
  test.skip(`deploy/k8s (skipped: ${unavailable})`, () => undefined);
} else {
  const tools = 'tools' in resolved ? resolved.tools : (null as unknown as Tools);
  let docs: Obj[] = [];
  let rendered = '';
  let dir = '';
  beforeAll(() => {
    if (unavailable) throw new Error(`STOQ_REQUIRE_K8S_TOOLS=1 but ${unavailable}`);
    dir = mkdtempSync(join(tmpdir(), 'stoq-k8s-'));
    docs = render(tools.kustomize, K8S);
    rendered = join(dir, 'rendered.yaml');
    const r = spawnSync(tools.kustomize, ['build', K8S], { encoding: 'utf8', maxBuffer: 32 << 20 });
    writeFileSync(rendered, r.stdout);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('kustomize renders every file of kustomization.yaml, with the Namespace, the hand-over PVC and the ecosystem', () => {
    const kinds = docs.map((d) => `${d['kind']}/${d['metadata']['name']}`).sort();
    expect(kinds).toEqual(
      [
        'Namespace/stoq', 'PersistentVolumeClaim/shared', 'ConfigMap/' + docs.find((d) => d['kind'] === 'ConfigMap')!['metadata']['name'],
        ...['trustchain', 'node', 'caesar', 'catalog', 'ngauge', 'validator'].map((n) => `StatefulSet/${n}`),
        ...['trustchain', 'node', 'caesar', 'catalog', 'ngauge', 'ngauge-dashboard', 'validator', 'hypermesh'].map((n) => `Service/${n}`),
        'PodDisruptionBudget/validator',
      ].sort(),
    );
    const cm = docs.find((d) => d['kind'] === 'ConfigMap')!;
    expect(cm['metadata']['name']).toMatch(/^stoq-k8s-[a-z0-9]+$/); // content hash: a change rolls the pods
    expect(cm['data']['stoq-k8s.mjs']).toBe(readFileSync(join(K8S, 'stoq-k8s.mjs'), 'utf8'));
    // The image of docker/Dockerfile, through kustomize's images: (stoq → stoq:local).
    for (const w of docs.filter((d) => d['kind'] === 'StatefulSet')) for (const c of allContainers(w)) expect(`${w['metadata']['name']}/${c['name']}=${c['image']}`).toBe(`${w['metadata']['name']}/${c['name']}=stoq:local`);
  });

  test('kubeconform -strict: every resource valid against the Kubernetes schemas (oldest and newest targeted version), none skipped', () => {
    const versions = tools.kubernetes_versions.split(/\s+/).filter(Boolean);
    expect(versions.length).toBeGreaterThan(0);
    for (const v of versions) {
      const r = spawnSync(tools.kubeconform, ['-strict', '-summary', '-output', 'json', '-kubernetes-version', v, '-schema-location', tools.schemas, rendered], { encoding: 'utf8' });
      const report = JSON.parse(r.stdout || '{}') as { resources?: { kind: string; name: string; status: string; msg: string }[]; summary?: Record<string, number> };
      const bad = (report.resources ?? []).filter((x) => x.status !== 'statusValid').map((x) => `${x.kind} ${x.name}: ${x.status} ${x.msg}`);
      expect({ version: v, exit: r.status, bad, stderr: r.stderr.trim() }).toEqual({ version: v, exit: 0, bad: [], stderr: '' });
      expect(report.summary).toEqual({ valid: docs.length, invalid: 0, errors: 0, skipped: 0 });
    }
  });

  test('kubeconform rejects a resource with an unknown field or a wrong type (the schemas are really applied)', () => {
    const broken = readFileSync(rendered, 'utf8').replace('podManagementPolicy: Parallel', 'podManagmentPolicy: Parallel').replace(/containerPort: 7440/, 'containerPort: "7440"');
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, broken);
    const v = tools.kubernetes_versions.split(/\s+/)[0]!;
    const r = spawnSync(tools.kubeconform, ['-strict', '-summary', '-output', 'json', '-kubernetes-version', v, '-schema-location', tools.schemas, file], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout) as { resources: { name: string; status: string; msg: string }[] };
    const invalid = report.resources.filter((x) => x.status === 'statusInvalid');
    expect(invalid.map((x) => x.name).sort()).toEqual(['trustchain', 'validator']);
    expect(invalid.find((x) => x.name === 'validator')!.msg).toMatch(/podManagmentPolicy/);
  });

  test('semantics the schema cannot check: selectors, target ports, references, the validators, probes, the bootstrap table', () => {
    expect(semanticProblems(docs)).toEqual([]);
  });

  test('the semantic checks catch a broken selector, a missing PVC, 3 validators and a probe at the wrong port', () => {
    const broken = structuredClone(docs);
    const find = (kind: string, name: string) => broken.find((d) => d['kind'] === kind && d['metadata']['name'] === name)!;
    find('Service', 'caesar')['spec']['selector'] = { 'app.kubernetes.io/name': 'caesr' };
    podSpec(find('StatefulSet', 'catalog'))['volumes'].find((v: Obj) => v['name'] === 'shared')['persistentVolumeClaim']['claimName'] = 'shard';
    find('StatefulSet', 'validator')['spec']['replicas'] = 3;
    podSpec(find('StatefulSet', 'ngauge'))['containers'][0]['livenessProbe']['exec']['command'][5] = '[::1]:4433';
    const problems = semanticProblems(broken);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Service caesar: selector .* matches no pod template/),
        expect.stringMatching(/^StatefulSet catalog: volume shared claims a missing PVC shard/),
        'StatefulSet validator has 3 replicas, not 4',
        expect.stringMatching(/^StatefulSet ngauge\/ngauge: livenessProbe calls ngauge elsewhere/),
        expect.stringMatching(/^the broker's --instance table .* differs from the pods' instances/),
      ]),
    );
  });

  test("every command is a script of the image, with only flags its CLI's --help names", () => {
    const helpCache = new Map<string, string>();
    const help = (script: string, sub: string[]): string => {
      const key = [script, ...sub].join(' ');
      if (!helpCache.has(key)) helpCache.set(key, spawnSync(process.execPath, [join(ROOT, script), ...sub, '--help'], { encoding: 'utf8', cwd: ROOT }).stdout);
      return helpCache.get(key)!;
    };
    const checked: string[] = [];
    for (const w of docs.filter((d) => d['kind'] === 'StatefulSet')) {
      for (const c of podSpec(w)['containers'] as Obj[]) {
        const commands: string[][] = [c['args'] ?? [], ...['startupProbe', 'readinessProbe', 'livenessProbe'].map((k) => (c[k]?.['exec']?.['command'] ?? []).slice(1))];
        for (const args of commands) {
          if (args.length === 0 || args[0]!.startsWith('/etc/stoq-k8s/')) continue; // the ConfigMap's script: tried by hand (README)
          expect(existsSync(join(ROOT, args[0]!))).toBe(true);
          const sub = /^[a-z]/.test(args[1] ?? '') ? [args[1]!] : [];
          const text = help(args[0]!, sub);
          expect(text.length).toBeGreaterThan(0);
          for (const flag of args.filter((a) => a.startsWith('--'))) expect(`${args[0]} ${sub.join(' ')} ${flag}: ${text.includes(flag) ? 'known' : 'unknown'}`).toBe(`${args[0]} ${sub.join(' ')} ${flag}: known`);
          checked.push(`${args[0]} ${sub.join(' ')}`);
        }
      }
    }
    expect(new Set(checked).size).toBeGreaterThanOrEqual(7); // trustchain, node, caesar, hypermesh, catalog, ngauge serve + stoq call
  });
}
