// Variables of .env that no service parses: docker compose (compose/*.yml), deploy.sh and scripts/stack.sh read
// them. Declared here, with the same API as the services' settings, so .env.example and the README's tables are
// generated from one place for them too. The defaults are the fallbacks the compose files use.
import { LOG_LEVELS, setting } from '@cdc/core';

const compose = 'docker compose';
const composeAndStack = 'docker compose, scripts/stack.sh';

export const composeSettings = {
  COMPOSE_PROJECT_NAME: setting.text({ default: 'cdc-pipeline', readBy: compose, description: 'compose project name: prefix of containers, volumes and the network' }),
  COMPOSE_HA: setting.bool({
    default: false,
    readBy: 'deploy.sh',
    description: 'true: 3 Kafka nodes (RF 3, min.insync.replicas 2) and a 3-member MongoDB replica set (compose/storage.ha.yml)',
  }),
  IMAGE_PREFIX: setting.text({ default: 'cdc-pipeline', readBy: compose, description: 'names of the images built by deploy.sh: IMAGE_PREFIX/<service>:IMAGE_TAG' }),
  IMAGE_TAG: setting.text({ default: 'local', readBy: compose, description: 'tag of the images built by deploy.sh' }),
  OPS_BIND_ADDRESS: setting.text({
    default: '127.0.0.1',
    readBy: compose,
    description: "address the services' ops ports (/healthz /readyz /metrics) are published on (127.0.0.1: reachable from this host only); unset: BIND_ADDRESS",
  }),
  INFRA_BIND_ADDRESS: setting.text({
    default: '127.0.0.1',
    readBy: compose,
    description:
      'address the ports of MongoDB, Kafka and the emulators are published on (127.0.0.1: this host only; the emulators have no authentication); unset: BIND_ADDRESS',
  }),
  BIND_ADDRESS: setting.text({ default: '127.0.0.1', readBy: compose, description: 'fallback of OPS_BIND_ADDRESS and INFRA_BIND_ADDRESS when they are unset' }),
  LOG_MAX_SIZE: setting.text({ default: '10m', readBy: compose, description: 'container log rotation (json-file driver): size of one file' }),
  LOG_MAX_FILE: setting.int({ default: 5, min: 1, readBy: compose, description: 'container log rotation: files kept' }),
};

const roleKey = (role: string, roles: string, alsoMountedFor = '') =>
  setting.text({
    values: 'file path on this host',
    readBy: 'deploy.sh, docker compose',
    description: `key file of the ${role}'s own service account (least privilege: ${roles}), mounted as its GOOGLE_APPLICATION_CREDENTIALS${alsoMountedFor}; unset: GOOGLE_APPLICATION_CREDENTIALS`,
  });

/** One service account per role (README "Least privilege"); compose/gcp-credentials.yml mounts each where it belongs. */
export const gcpRoleKeySettings = {
  GCP_SETUP_CREDENTIALS: roleKey('setup (gcp-setup)', 'BigQuery and Storage admin of the dataset and the bucket'),
  GCP_LOADER_CREDENTIALS: roleKey('loader', 'data editor on the dataset, job user, object admin and bucket reader on the bucket'),
  GCP_ANALYSIS_CREDENTIALS: roleKey('analysis tool', 'data viewer on the dataset, job user', " and the console's (its query box runs through the analysis tool's code)"),
};

const publishedPort = (what: string, port: number) =>
  setting.port({
    default: port,
    readBy: compose,
    description: `port of ${what} published on INFRA_BIND_ADDRESS (for scripts/stack.sh and scripts/infra.sh it comes from the environment instead)`,
  });

export const publishedPortSettings = {
  MONGO_PORT: publishedPort('MongoDB', 27017),
  KAFKA_PORT: publishedPort('Kafka', 9092),
  GCS_PORT: publishedPort('the Cloud Storage emulator', 4443),
};

const haPort = (member: string, port: number) =>
  setting.port({ default: port, readBy: compose, description: `COMPOSE_HA only: published port of ${member}` });

export const haPortSettings = {
  MONGO_PORT_2: haPort('the second MongoDB member', 27018),
  MONGO_PORT_3: haPort('the third MongoDB member', 27019),
  KAFKA_PORT_2: haPort('the second Kafka node', 9095),
  KAFKA_PORT_3: haPort('the third Kafka node', 9096),
};

export const mongoServerSettings = {
  MONGO_ROOT_USERNAME: setting.text({ default: 'root', readBy: compose, description: 'root user, created on the first start of an empty volume' }),
  MONGO_ROOT_PASSWORD: setting.secret(
    setting.text({ readBy: 'docker compose, deploy.sh', description: "the root user's password (deploy.sh fills an empty one with a random one)" }),
  ),
  MONGO_CDC_USERNAME: setting.text({
    default: 'cdc',
    readBy: compose,
    description: "the cdc service's read-only user (read on the databases of CDC_COLLECTIONS, and on local for the oplog's window), created with the root user",
  }),
  MONGO_CDC_PASSWORD: setting.secret(
    setting.text({ readBy: 'docker compose, deploy.sh', description: "the cdc user's password (deploy.sh fills an empty one with a random one)" }),
  ),
  MONGO_URI_HOST_FILE: setting.text({
    values: 'file path on this host',
    readBy: 'deploy.sh, docker compose',
    description:
      "file on this host holding the cdc's whole MongoDB connection string: mounted as a secret (compose/mongo-uri-file.yml) and read through MONGO_URI_FILE, so the password is not in the container's environment (docker inspect)",
  }),
  MONGO_TLS_CA_HOST_FILE: setting.text({
    values: 'file path on this host',
    readBy: 'deploy.sh, docker compose',
    description: "CA certificates (PEM) on this host for TLS from the cdc to MongoDB: mounted as a secret (compose/mongo-tls.yml), read through MONGO_TLS_CA_FILE",
  }),
  MONGO_TLS_CERT_KEY_HOST_FILE: setting.text({
    values: 'file path on this host',
    readBy: 'deploy.sh, docker compose',
    description: 'with MONGO_TLS_CA_HOST_FILE: client certificate and key (one PEM) on this host for x509 authentication, mounted as a secret, read through MONGO_TLS_CERT_KEY_FILE',
  }),
  MONGO_REPLICA_SET: setting.text({ default: 'rs0', readBy: compose, description: 'replica-set name (change streams need a replica set)' }),
  MONGO_CACHE_SIZE_GB: setting.int({ default: 1, min: 1, unit: 'GB', readBy: compose, description: 'WiredTiger cache of each mongod' }),
};

/** A SCRAM user of the compose broker, one per service (README "Kafka principals and ACLs"). */
const kafkaServicePassword = (service: string) =>
  setting.secret(
    setting.text({
      readBy: 'docker compose, deploy.sh',
      description: `the password of User:${service}, the ${service}'s own SCRAM-SHA-512 principal on the compose broker, with ACLs for exactly what it does${service === 'console' ? ' (see, never read: the groups\' offsets and the topics\' ends)' : ''}; deploy.sh fills an empty one with a random one and sets it on every run`,
    }),
  );

export const kafkaBrokerSettings = {
  KAFKA_ADMIN_PASSWORD: setting.secret(
    setting.text({
      readBy: 'docker compose, deploy.sh',
      description:
        "the password of User:admin, the compose brokers' one super user (PLAIN on their ADMIN listener, inside the compose network only): inter-broker and controller traffic, and deploy.sh's set-up of users, ACLs and topics; deploy.sh fills an empty one with a random one",
    }),
  ),
  KAFKA_CDC_PASSWORD: kafkaServicePassword('cdc'),
  KAFKA_PROCESSOR_PASSWORD: kafkaServicePassword('processor'),
  KAFKA_LOADER_PASSWORD: kafkaServicePassword('loader'),
  KAFKA_CONSOLE_PASSWORD: kafkaServicePassword('console'),
  KAFKA_CLUSTER_ID: setting.text({
    default: 'b2KxPV1aQ3aO7pPEnbRr6w',
    readBy: compose,
    description: 'KRaft cluster id (22 characters of URL-safe base64); fixed once the data volume is formatted',
  }),
  KAFKA_EXTERNAL_HOST: setting.text({ default: '127.0.0.1', readBy: compose, description: 'host name clients on the host use for the published port (advertised listener)' }),
  KAFKA_HEAP_OPTS: setting.text({ default: '-Xms256m -Xmx1g', readBy: compose, description: "the brokers' JVM heap" }),
  KAFKA_LOG_RETENTION_HOURS: setting.int({
    default: 168,
    min: 1,
    unit: 'hours',
    readBy: compose,
    description: 'broker default retention of topics created without their own retention',
  }),
  KAFKA_OFFSETS_RETENTION_MINUTES: setting.int({
    default: 20160,
    min: 1,
    unit: 'minutes',
    readBy: compose,
    description:
      "broker: how long a consumer group's committed offsets outlive the group's last member; keep it above the longest topic retention, or a group stopped for longer restarts from the log start without noticing the records deleted",
  }),
};

const serviceLogLevel = (service: string) =>
  setting.optionalOneOf(LOG_LEVELS, {
    readBy: composeAndStack,
    description: `LOG_LEVEL of the ${service} alone; empty: LOG_LEVEL`,
  });

export const serviceLogLevelSettings = {
  CDC_LOG_LEVEL: serviceLogLevel('cdc'),
  PROCESSOR_LOG_LEVEL: serviceLogLevel('processor'),
  LOADER_LOG_LEVEL: serviceLogLevel('loader'),
  CONSOLE_LOG_LEVEL: serviceLogLevel('console'),
};

/**
 * Resource limits of every container (a runaway one cannot starve the host or the others), sized from the peaks
 * measured in the container tests with headroom (README "Security"): raise them for bigger loads.
 */
const containerLimits = (prefix: string, what: string, memory: string, cpus: string, pids: number) => ({
  [`${prefix}_MEM_LIMIT`]: setting.text({ default: memory, values: 'bytes with unit: 512m, 2g', readBy: compose, description: `memory limit of ${what} (mem_limit; reaching it kills the process)` }),
  [`${prefix}_CPUS`]: setting.text({ default: cpus, values: 'number of CPUs, fractions allowed', readBy: compose, description: `CPU limit of ${what} (cpus)` }),
  [`${prefix}_PIDS_LIMIT`]: setting.int({ default: pids, min: 1, readBy: compose, description: `limit of processes and threads of ${what} (pids_limit)` }),
});

export const containerLimitSettings = {
  ...containerLimits('MONGO', 'each MongoDB member (above MONGO_CACHE_SIZE_GB)', '2g', '2', 512),
  ...containerLimits('KAFKA', 'each Kafka node (above the heap of KAFKA_HEAP_OPTS)', '2g', '2', 1024),
  ...containerLimits('CDC', 'the cdc', '1g', '1', 128),
  ...containerLimits('PROCESSOR', 'the processor (its benchmark peaks at 0.7 GiB on a 1M-row backlog at the shipped PROCESSOR_BUFFER_MAX_BYTES)', '2g', '1', 128),
  ...containerLimits('LOADER', 'the loader', '1g', '1', 128),
  ...containerLimits('CONSOLE', 'the console (and its Kafka reader process)', '512m', '0.5', 128),
  ...containerLimits('GCP_TOOLS', 'the Google Cloud setup job and the analysis tool', '512m', '1', 128),
  ...containerLimits('GCS_EMULATOR', 'the Cloud Storage emulator', '512m', '1', 256),
  ...containerLimits('BIGQUERY_EMULATOR', 'the BigQuery emulator', '2g', '2', 256),
  ...containerLimits('SETUP_JOB', 'the one-shot volume set-up jobs (MongoDB key file, emulator volume owner)', '128m', '0.5', 64),
};
