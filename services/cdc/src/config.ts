import { z } from 'zod';
import { checkKafkaSecurity, commonFields, fields, kafkaFields, topicFields, secret, RECORD_OVERHEAD_BYTES } from '@cdc/core';

const namespace = z.string().regex(/^[^.\s$]+\.[^\s$]+$/, 'each entry must be db.collection');

export const cdcConfigSchema = z.object({
  MONGO_URI: secret(z.string().regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// or mongodb+srv:// URI')),
  MONGO_CONNECT_TIMEOUT_MS: fields.positiveInt(10000),
  CDC_COLLECTIONS: fields.list('shop.orders').pipe(z.array(namespace)),
  /** {db} and {coll} are replaced; default maps shop.orders to orders-cdc */
  CDC_TOPIC_TEMPLATE: z.string().regex(/\{coll\}/, 'must contain {coll}').default('{coll}-cdc'),
  CDC_CHECKPOINT_TOPIC: z.string().min(1).default('cdc-checkpoints'),
  CDC_INSTANCE_INDEX: fields.nonNegativeInt(0),
  CDC_INSTANCE_COUNT: fields.positiveInt(1),
  /** collection: instances split the collections; hash: every instance watches every collection, split by document key */
  CDC_PARTITION_MODE: z.enum(['collection', 'hash']).default('collection'),
  CDC_SNAPSHOT: z.enum(['never', 'initial', 'when_no_offset']).default('initial'),
  CDC_SNAPSHOT_BATCH_SIZE: fields.positiveInt(1000),
  CDC_FULL_DOCUMENT_BEFORE_CHANGE: z.enum(['off', 'whenAvailable', 'required']).default('off'),
  /**
   * end the change stream with $changeStreamSplitLargeEvent (MongoDB 7.0, 6.0.9 and later) and join the fragments:
   * events over 16 MiB (a big document with its pre-image) are read instead of failing the stream; false for older servers
   */
  CDC_SPLIT_LARGE_EVENTS: fields.bool(true),
  /** what to do on drop / rename / invalidate: stop the service, or reopen the stream after the event */
  CDC_ON_STREAM_END: z.enum(['stop', 'reopen']).default('stop'),
  /** what to do when the saved resume token is no longer in the oplog */
  CDC_ON_HISTORY_LOST: z.enum(['fail', 'resnapshot']).default('fail'),
  /**
   * an idle stream still records its change stream's position (postBatchResumeToken) this often, in a
   * checkpoint-only transaction, so its resume point follows the oplog instead of rolling off it
   */
  CDC_HEARTBEAT_INTERVAL_MS: fields.positiveInt(60000),
  CDC_BATCH_MAX_EVENTS: fields.positiveInt(2000),
  CDC_BATCH_MAX_BYTES: fields.positiveInt(4 * 1024 * 1024),
  CDC_BATCH_MAX_WAIT_MS: fields.positiveInt(200),
  /**
   * events larger than this (encoded envelope) go to the dead-letter topic <topic>.dlq with reason oversize; 64 MiB
   * holds a 16 MiB document with its pre-image and update description. At most KAFKA_MAX_MESSAGE_BYTES - 65536
   */
  CDC_MAX_MESSAGE_BYTES: fields.positiveInt(64 * 1024 * 1024),
  CDC_COMPRESSION: z.enum(['none', 'gzip']).default('none'),
  /** tests only: SIGKILL itself once the Nth transaction (over all streams) has sent its records but not committed */
  CDC_TEST_CRASH_IN_TRANSACTION: fields.nonNegativeInt(0),
  ...kafkaFields('cdc'),
  ...topicFields(),
  KAFKA_TRANSACTION_TIMEOUT_MS: fields.positiveInt(60000),
  ...commonFields(8081),
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
}).superRefine(checkKafkaSecurity);

export type CdcConfig = z.output<typeof cdcConfigSchema>;
