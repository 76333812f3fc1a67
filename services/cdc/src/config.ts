import { readFileSync } from 'node:fs';
import type { MongoClientOptions } from 'mongodb';
import { z } from 'zod';
import { ConfigError, fields, kafkaServiceSchema, kafkaTransactionSettings, perServiceSettings, setting, RECORD_OVERHEAD_BYTES } from '@cdc/core';
import { parseNamespace, topicFor } from './transform/routing.js';

const mongoUri = z.string().regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// or mongodb+srv:// URI');
const namespace = z.string().regex(/^[^.\s$]+\.[^\s$]+$/, 'each entry must be db.collection');
const pattern = z.string().refine((text) => {
  try {
    new RegExp(text);
    return true;
  } catch {
    return false;
  }
}, 'not a valid regular expression');

/** The cdc's own variables (the shared ones are in `cdcConfigSchema`). */
export const cdcSettings = {
  ...setting.valueOrFile('MONGO_URI', {
    what: 'the connection string',
    secret: true,
    check: mongoUri,
    values: 'mongodb:// or mongodb+srv:// URI',
    description:
      'connection string (one of MONGO_URI and MONGO_URI_FILE is required). Empty in .env: docker compose builds it from MONGO_CDC_USERNAME/PASSWORD and the replica-set members (passwords with URL-special characters must then be percent-encoded here instead); stack.sh uses the stand-in. x509: add authMechanism=MONGODB-X509 and set MONGO_TLS_CERT_KEY_FILE',
  }),
  MONGO_TLS_CA_FILE: setting.file({
    description: "TLS to MongoDB: CA certificates (PEM file) the servers' certificates are checked against (turns TLS on); empty: the system's, TLS as the URI says",
  }),
  MONGO_TLS_CERT_KEY_FILE: setting.file({
    secretContent: true,
    description: 'TLS client certificate and its unencrypted private key in one PEM file (turns TLS on), for x509 authentication (authMechanism=MONGODB-X509 in the URI) or servers that require client certificates',
  }),
  MONGO_CONNECT_TIMEOUT_MS: setting.durationMs({ default: 10000, description: 'server selection / connect timeout' }),
  CDC_CAPTURE_SCOPE: setting.oneOf(['collection', 'database', 'deployment'], {
    default: 'collection',
    description:
      'collection: the collections of CDC_COLLECTIONS, one change stream each; database: every collection of CDC_CAPTURE_DATABASE, deployment: of every database, through ONE change stream (filtered on the namespace by the include/exclude patterns), collections created while running picked up',
  }),
  CDC_COLLECTIONS: setting.list({ default: 'shop.orders', item: namespace, values: 'db.collection,...', description: 'collection scope: the collections to capture' }),
  CDC_CAPTURE_DATABASE: setting.text({ default: 'shop', check: z.string().regex(/^[^./\\\s"$]+$/, 'must be a database name'), description: 'database scope: the database captured' }),
  CDC_DATABASE_INCLUDE: setting.text({ default: '.*', check: pattern, values: 'regular expression', description: 'deployment scope: databases captured, a regular expression the whole name must match (admin, local and config never are)' }),
  CDC_DATABASE_EXCLUDE: setting.text({ default: '', check: pattern, values: 'regular expression', description: 'deployment scope: databases left out, whole name (empty: none)' }),
  CDC_COLLECTION_INCLUDE: setting.text({ default: '.*', check: pattern, values: 'regular expression', description: 'database and deployment scope: collections captured, a regular expression the whole db.collection name must match (system.* collections never are)' }),
  CDC_COLLECTION_EXCLUDE: setting.text({ default: '', check: pattern, values: 'regular expression', description: 'database and deployment scope: collections left out, whole db.collection name (empty: none)' }),
  CDC_DROPPED_COLLECTION_ROWS: setting.oneOf(['delete', 'keep'], {
    default: 'delete',
    description:
      "database and deployment scope: the current-state rows of a collection dropped or renamed away: delete (a marker after its last change has the loader delete them, as of the drop) or keep (they stay as they were)",
  }),
  CDC_TOPIC_TEMPLATE: setting.text({
    default: '{coll}-cdc',
    check: z.string().regex(/\{coll\}/, 'must contain {coll}').pipe(fields.topicTemplate(['db', 'coll'])),
    description: 'topic of each collection; {db} and {coll} are replaced (shop.orders -> orders-cdc)',
  }),
  CDC_CHECKPOINT_TOPIC: setting.text({ default: 'cdc-checkpoints', check: fields.topicName, description: 'compacted topic holding the resume tokens' }),
  CDC_INSTANCE_INDEX: setting.int({ default: 0, min: 0, description: "several instances: this one's index (0-based), lower than CDC_INSTANCE_COUNT" }),
  CDC_INSTANCE_COUNT: setting.int({ default: 1, min: 1, description: 'several instances: how many there are' }),
  CDC_PARTITION_MODE: setting.oneOf(['collection', 'hash'], {
    default: 'collection',
    description: 'collection: instances split the collections; hash: every instance watches every collection, split by document key',
  }),
  CDC_SNAPSHOT: setting.oneOf(['never', 'initial', 'when_no_offset'], {
    default: 'initial',
    description:
      'initial: copy the collection once, before streaming; when_no_offset: whenever no usable checkpoint exists, also when the saved resume point is lost from the oplog (needs CDC_ON_HISTORY_LOST=resnapshot)',
  }),
  CDC_SNAPSHOT_BATCH_SIZE: setting.int({ default: 1000, min: 1, description: 'documents a snapshot reads from MongoDB per query' }),
  CDC_FULL_DOCUMENT_BEFORE_CHANGE: setting.oneOf(['off', 'whenAvailable', 'required'], {
    default: 'off',
    description: 'pre-images of updates and deletes (whenAvailable and required need changeStreamPreAndPostImages on the collection)',
  }),
  CDC_SPLIT_LARGE_EVENTS: setting.bool({
    default: true,
    description:
      'end the change stream with $changeStreamSplitLargeEvent and join the fragments, so events over 16 MiB (a big document with its pre-image) are read instead of failing the stream; needs MongoDB 7.0 or 6.0.9+ (false before)',
  }),
  CDC_ON_STREAM_END: setting.oneOf(['stop', 'reopen'], {
    default: 'stop',
    description:
      'on drop / rename / invalidate: stop the service, or reopen the stream after the event; in a database or deployment scope a drop or rename ends that collection only: stop leaves it stopped (its later events not captured), reopen takes a collection of that name as new again',
  }),
  CDC_ON_HISTORY_LOST: setting.oneOf(['fail', 'resnapshot'], {
    default: 'fail',
    description: 'when the saved resume token is no longer in the oplog: fail, or take a new snapshot (its marker has the loader delete the documents it did not see)',
  }),
  CDC_HEARTBEAT_INTERVAL_MS: setting.durationMs({
    default: 60000,
    description:
      "an idle stream checkpoints its change stream's position (postBatchResumeToken; no events, one small Kafka transaction) this often, so its resume point follows the oplog instead of rolling off it; keep it well below the oplog's window",
  }),
  CDC_BATCH_MAX_EVENTS: setting.int({ default: 2000, min: 1, max: 100_000, description: 'a Kafka transaction is committed when it holds this many events (at most the 100,000 records the Kafka client queues)' }),
  CDC_BATCH_MAX_BYTES: setting.int({ default: 4 * 1024 * 1024, min: 1, unit: 'bytes', description: 'a Kafka transaction is also committed when its events add up to this many bytes' }),
  CDC_BATCH_MAX_WAIT_MS: setting.durationMs({ default: 200, description: 'a Kafka transaction is also committed when it has waited this long for more events' }),
  CDC_MAX_MESSAGE_BYTES: setting.int({
    default: 64 * 1024 * 1024,
    min: 1,
    unit: 'bytes',
    description:
      'events larger than this (encoded envelope) go to the dead-letter topic <topic>.dlq with reason oversize; 64 MiB holds a 16 MiB document with its pre-image and update description; at most KAFKA_MAX_MESSAGE_BYTES - 65536',
  }),
  CDC_COMPRESSION: setting.oneOf(['none', 'gzip'], { default: 'none', description: 'compression of the Kafka records the cdc writes' }),
  CDC_TEST_CRASH_IN_TRANSACTION: setting.testCrashHook('once the Nth transaction (over all streams) has sent its records but not committed'),
  ...perServiceSettings('cdc', 8081),
};

export const cdcConfigSchema = kafkaServiceSchema({ ...cdcSettings, ...kafkaTransactionSettings }).refine((c) => (c.MONGO_URI === undefined) !== (c.MONGO_URI_FILE === undefined), {
  path: ['MONGO_URI'],
  message: 'set either MONGO_URI or MONGO_URI_FILE (exactly one)',
}).superRefine((c, ctx) => {
  // a collection name may hold characters a topic name may not (MongoDB allows nearly anything)
  for (const ns of c.CDC_COLLECTIONS) {
    const { db, coll } = parseNamespace(ns);
    const topic = topicFor(c.CDC_TOPIC_TEMPLATE, db, coll);
    if (!fields.topicName.safeParse(topic).success) {
      ctx.addIssue({ code: 'custom', path: ['CDC_COLLECTIONS'], message: `${ns} would go to topic "${topic}", not a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -): change CDC_TOPIC_TEMPLATE` });
    }
  }
}).refine((c) => c.CDC_CAPTURE_SCOPE === 'collection' || c.CDC_PARTITION_MODE === 'collection', {
  path: ['CDC_PARTITION_MODE'],
  message: 'a database or deployment scope is split between instances by collection only (CDC_PARTITION_MODE=collection)',
}).refine((c) => c.CDC_INSTANCE_INDEX < c.CDC_INSTANCE_COUNT, {
  path: ['CDC_INSTANCE_INDEX'],
  message: 'must be lower than CDC_INSTANCE_COUNT',
}).refine((c) => c.CDC_MAX_MESSAGE_BYTES + RECORD_OVERHEAD_BYTES <= c.KAFKA_MAX_MESSAGE_BYTES, {
  // An event the cdc accepts has to fit the topic it goes to, or the transaction carrying it fails.
  path: ['CDC_MAX_MESSAGE_BYTES'],
  message: `must be at most KAFKA_MAX_MESSAGE_BYTES - ${RECORD_OVERHEAD_BYTES} (room for key, headers and batch framing): raise KAFKA_MAX_MESSAGE_BYTES (and the topic's max.message.bytes) or lower CDC_MAX_MESSAGE_BYTES`,
}).refine((c) => c.CDC_SNAPSHOT !== 'when_no_offset' || c.CDC_ON_HISTORY_LOST === 'resnapshot', {
  // It once overrode CDC_ON_HISTORY_LOST=fail without a word; now the two settings have to agree.
  path: ['CDC_SNAPSHOT'],
  message: 'when_no_offset also snapshots when the saved resume point is lost from the oplog, so it needs CDC_ON_HISTORY_LOST=resnapshot (or use initial)',
});

export type CdcConfig = z.output<typeof cdcConfigSchema>;

/**
 * How the cdc connects to MongoDB: the URI (from MONGO_URI_FILE when that is set: a mounted secret, so the
 * credentials are neither in the container's environment nor in `docker inspect`) and the TLS files.
 */
export function mongoConnection(config: Pick<CdcConfig, 'MONGO_URI' | 'MONGO_URI_FILE' | 'MONGO_TLS_CA_FILE' | 'MONGO_TLS_CERT_KEY_FILE'>): { uri: string; options: MongoClientOptions } {
  const uri = config.MONGO_URI ?? readFileSync(config.MONGO_URI_FILE!, 'utf8').replace(/\r?\n$/, '');
  // The file's content is checked like the variable, never quoted (it holds the password).
  if (!mongoUri.safeParse(uri).success) throw new ConfigError([{ variable: 'MONGO_URI_FILE', problem: 'the file does not hold a mongodb:// or mongodb+srv:// URI (content not shown)' }]);
  const tls = config.MONGO_TLS_CA_FILE !== undefined || config.MONGO_TLS_CERT_KEY_FILE !== undefined;
  return {
    uri,
    options: {
      ...(tls ? { tls: true } : {}),
      ...(config.MONGO_TLS_CA_FILE ? { tlsCAFile: config.MONGO_TLS_CA_FILE } : {}),
      ...(config.MONGO_TLS_CERT_KEY_FILE ? { tlsCertificateKeyFile: config.MONGO_TLS_CERT_KEY_FILE } : {}),
    },
  };
}
