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
//  - images not built here are pinned to an exact version (x.y.z tag or digest);
//  - Kafka brokers authenticate every listener (no PLAINTEXT one) and authorize with ACLs, denying what no ACL allows;
//  - every Kafka client service logs in with SASL as a user of its own, never the brokers' super user;
//  - no password (a *PASSWORD* variable's value, a JAAS password) is on a command line: command, entrypoint or
//    healthcheck.
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

const services = Object.entries(config.services ?? {});
const envOf = (service) => service.environment ?? {};
const superUsers = new Set();
for (const [name, service] of services) {
  const env = envOf(service);
  if (env.KAFKA_PROCESS_ROLES === undefined) continue;
  for (const user of (env.KAFKA_SUPER_USERS ?? '').split(';')) if (user) superUsers.add(user.replace(/^User:/, ''));
  for (const entry of (env.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP ?? 'PLAINTEXT:PLAINTEXT').split(',')) {
    const [listener, protocol] = entry.split(':');
    if (!/^(SASL_PLAINTEXT|SASL_SSL|SSL)$/.test(protocol)) problems.push(`${name}: Kafka listener ${listener} is ${protocol}, without authentication`);
  }
  if (!env.KAFKA_AUTHORIZER_CLASS_NAME) problems.push(`${name}: Kafka broker without an authorizer (KAFKA_AUTHORIZER_CLASS_NAME)`);
  if (env.KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND !== 'false') problems.push(`${name}: KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND is not "false"`);
}
const kafkaUsers = new Map();
for (const [name, service] of services) {
  const env = envOf(service);
  if (env.KAFKA_BROKERS === undefined) continue;
  if (!/^SASL_/.test(env.KAFKA_SECURITY_PROTOCOL ?? '')) problems.push(`${name}: Kafka client without SASL (KAFKA_SECURITY_PROTOCOL ${env.KAFKA_SECURITY_PROTOCOL || 'unset'})`);
  const user = env.KAFKA_SASL_USERNAME;
  if (!user) problems.push(`${name}: Kafka client without a user of its own (KAFKA_SASL_USERNAME)`);
  else if (superUsers.has(user)) problems.push(`${name}: Kafka client logs in as the super user ${user}`);
  else if (kafkaUsers.has(user)) problems.push(`${name}: Kafka user ${user} is also ${kafkaUsers.get(user)}'s: one user per service`);
  else kafkaUsers.set(user, name);
}
const secrets = new Set();
for (const [, service] of services) {
  for (const [key, value] of Object.entries(envOf(service))) {
    if (typeof value !== 'string' || value === '') continue;
    if (/PASSWORD/.test(key)) secrets.add(value);
    for (const [, password] of value.matchAll(/password="([^"]+)"/g)) secrets.add(password);
  }
}
for (const [name, service] of services) {
  const argv = [service.command, service.entrypoint, service.healthcheck?.test].flat(Infinity).filter((part) => typeof part === 'string');
  for (const secret of secrets) if (argv.some((part) => part.includes(secret))) problems.push(`${name}: a password on its command line (command, entrypoint or healthcheck)`);
}

for (const p of problems) console.error(`compose policy (${label}): ${p}`);
process.exit(problems.length > 0 ? 1 : 0);
