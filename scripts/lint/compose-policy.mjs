#!/usr/bin/env node
// Project rules for the compose files, checked on the resolved configuration (`docker compose config --format json`):
//  - published ports bind to 127.0.0.1 only (OPS_BIND_ADDRESS, INFRA_BIND_ADDRESS and BIND_ADDRESS unset); with
//    --bind-probe OPS INFRA (a configuration resolved with OPS_BIND_ADDRESS=OPS and INFRA_BIND_ADDRESS=INFRA) each
//    port binds to the variable of its kind: a service's ops port (its HTTP_PORT) to OPS, every other to INFRA;
//  - every service has a memory, CPU and process-count limit (mem_limit, cpus, pids_limit);
//  - every service drops all capabilities (cap_drop ALL), may add back only the few a start as root needs
//    (START_CAPABILITIES), and cannot gain privileges (security_opt no-new-privileges);
//  - every long-running service has a healthcheck and a restart policy; one-shot jobs say restart "no";
//  - depends_on waits for service_healthy or service_completed_successfully, never just "started";
//  - every service logs with rotation (json-file with max-size and max-file);
//  - all services share one network;
//  - images not built here are pinned to an exact version (x.y.z tag or digest).
//   node scripts/lint/compose-policy.mjs CONFIG.json [LABEL] [--bind-probe OPS INFRA]
import { readFileSync } from 'node:fs';

// what the infrastructure images' own start needs as root: hand a volume to the service's user, switch to it
const START_CAPABILITIES = new Set(['CHOWN', 'FOWNER', 'SETUID', 'SETGID']);

const args = process.argv.slice(2);
const probeAt = args.indexOf('--bind-probe');
const probe = probeAt >= 0 ? { ops: args[probeAt + 1], infra: args[probeAt + 2] } : null;
if (probeAt >= 0) args.splice(probeAt, 3);
const [file, label = file] = args;
const config = JSON.parse(readFileSync(file, 'utf8'));
const problems = [];
const networks = new Set();

for (const [name, service] of Object.entries(config.services ?? {})) {
  const where = `${name}`;
  for (const port of service.ports ?? []) {
    const ops = String(port.target) === String(service.environment?.HTTP_PORT);
    const expected = probe ? (ops ? probe.ops : probe.infra) : '127.0.0.1';
    if (port.host_ip !== expected) {
      const variable = probe ? ` (${ops ? 'OPS' : 'INFRA'}_BIND_ADDRESS)` : '';
      problems.push(`${where}: port ${port.published}:${port.target} binds to ${port.host_ip ?? 'all interfaces'}, not ${expected}${variable}`);
    }
  }
  const limits = service.deploy?.resources?.limits ?? {};
  if (!service.mem_limit && !limits.memory) problems.push(`${where}: no memory limit (mem_limit)`);
  if (!service.cpus && !limits.cpus) problems.push(`${where}: no CPU limit (cpus)`);
  if (!service.pids_limit && !limits.pids) problems.push(`${where}: no process-count limit (pids_limit)`);
  if (!(service.cap_drop ?? []).includes('ALL')) problems.push(`${where}: capabilities not dropped (cap_drop: [ALL])`);
  for (const capability of service.cap_add ?? []) {
    if (!START_CAPABILITIES.has(capability)) problems.push(`${where}: cap_add ${capability} (only ${[...START_CAPABILITIES].join(', ')}, for a start as root)`);
  }
  if (!(service.security_opt ?? []).some((option) => /^no-new-privileges(:true)?$/.test(option))) {
    problems.push(`${where}: may gain privileges (security_opt: no-new-privileges:true)`);
  }
  const oneShot = service.restart === 'no';
  if (!oneShot) {
    if (!['unless-stopped', 'always', 'on-failure'].includes(service.restart)) problems.push(`${where}: no restart policy`);
    const test = service.healthcheck?.test;
    if (!test || service.healthcheck?.disable || (Array.isArray(test) && test[0] === 'NONE')) problems.push(`${where}: no healthcheck`);
  }
  for (const [dependency, spec] of Object.entries(service.depends_on ?? {})) {
    if (!['service_healthy', 'service_completed_successfully'].includes(spec.condition)) {
      problems.push(`${where}: depends_on ${dependency} with condition ${spec.condition} (wait for service_healthy or service_completed_successfully)`);
    }
  }
  const logging = service.logging;
  if (logging?.driver !== 'json-file' || !logging.options?.['max-size'] || !logging.options?.['max-file']) {
    problems.push(`${where}: no log rotation (json-file with max-size and max-file)`);
  }
  for (const network of Object.keys(service.networks ?? { default: null })) networks.add(network);
  // images built here (build:, or pull_policy never: another service builds them) are tagged by IMAGE_TAG
  if (!service.build && service.pull_policy !== 'never' && service.image) {
    const image = service.image;
    const tag = /:([^/@]+)$/.exec(image.split('@')[0])?.[1];
    if (!image.includes('@sha256:') && (!tag || !/\d+\.\d+\.\d+/.test(tag))) problems.push(`${where}: image ${image} is not pinned to an exact version`);
  }
  if (service.privileged) problems.push(`${where}: privileged`);
}
if (networks.size !== 1) problems.push(`services are on ${networks.size} networks (${[...networks].join(', ')}), expected one`);

for (const p of problems) console.error(`compose policy (${label}): ${p}`);
process.exit(problems.length > 0 ? 1 : 0);
