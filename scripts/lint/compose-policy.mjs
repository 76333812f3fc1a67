#!/usr/bin/env node
// Project rules for the compose files, checked on the resolved configuration (`docker compose config --format json`):
//  - published ports bind to 127.0.0.1 only (BIND_ADDRESS unset);
//  - every long-running service has a healthcheck and a restart policy; one-shot jobs say restart "no";
//  - depends_on waits for service_healthy or service_completed_successfully, never just "started";
//  - every service logs with rotation (json-file with max-size and max-file);
//  - all services share one network;
//  - images not built here are pinned to an exact version (x.y.z tag or digest).
//   node scripts/lint/compose-policy.mjs CONFIG.json [LABEL]
import { readFileSync } from 'node:fs';

const [file, label = file] = process.argv.slice(2);
const config = JSON.parse(readFileSync(file, 'utf8'));
const problems = [];
const networks = new Set();

for (const [name, service] of Object.entries(config.services ?? {})) {
  const where = `${name}`;
  for (const port of service.ports ?? []) {
    if (port.host_ip !== '127.0.0.1') problems.push(`${where}: port ${port.published}:${port.target} binds to ${port.host_ip ?? 'all interfaces'}, not 127.0.0.1`);
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
