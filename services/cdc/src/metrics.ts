import { Counter, Gauge, type Registry } from 'prom-client';

/** What the per-collection gauges read at each scrape (set once the streams exist). */
export interface CollectionRates {
  source: () => { collection: string; events_per_second: number; resume_point_age_seconds: number | null }[];
}

export function createCdcMetrics(registry: Registry) {
  const collectionRates: CollectionRates = { source: () => [] };
  return {
    collectionRates,
    eventsRead: new Counter({ name: 'cdc_events_read_total', help: 'Change events read from MongoDB', labelNames: ['stream', 'op'], registers: [registry] }),
    eventsPublished: new Counter({ name: 'cdc_events_published_total', help: 'Change events committed to Kafka', labelNames: ['stream', 'op'], registers: [registry] }),
    transactions: new Counter({ name: 'cdc_transactions_total', help: 'Kafka transactions committed (events + checkpoint)', labelNames: ['stream'], registers: [registry] }),
    heartbeats: new Counter({ name: 'cdc_heartbeat_checkpoints_total', help: 'Checkpoint-only transactions recording a quiet stream\'s position (postBatchResumeToken)', labelNames: ['stream'], registers: [registry] }),
    oplogWindow: new Gauge({ name: 'cdc_oplog_window_seconds', help: 'Span of the MongoDB oplog: newest minus oldest entry (local.oplog.rs)', registers: [registry] }),
    resumePointAge: new Gauge({ name: 'cdc_resume_point_age_seconds', help: 'How far the committed resume point is behind the newest oplog entry; a restart fails once it is older than the oldest entry', labelNames: ['stream'], registers: [registry] }),
    deadLetters: new Counter({ name: 'cdc_dead_letters_total', help: 'Events sent to the dead-letter topic', labelNames: ['stream', 'reason'], registers: [registry] }),
    streamEnds: new Counter({ name: 'cdc_stream_end_events_total', help: 'drop / rename / invalidate events seen', labelNames: ['stream', 'type'], registers: [registry] }),
    lastCheckpoint: new Gauge({ name: 'cdc_last_checkpoint_timestamp_seconds', help: 'Unix time of the last committed checkpoint', labelNames: ['stream'], registers: [registry] }),
    lastEventClusterTime: new Gauge({ name: 'cdc_last_published_cluster_time_seconds', help: 'Cluster time of the last event committed to Kafka (lag = now - this)', labelNames: ['stream'], registers: [registry] }),
    snapshotDocuments: new Counter({ name: 'cdc_snapshot_documents_total', help: 'Documents emitted by the initial snapshot', labelNames: ['stream'], registers: [registry] }),
    // Where the streaming loop's time goes: reading and encoding changes, or waiting for the transaction in flight.
    streamingSeconds: new Counter({ name: 'cdc_streaming_seconds_total', help: 'Streaming time spent reading+encoding a batch (step=read) or waiting for the previous transaction (step=commit_wait)', labelNames: ['stream', 'step'], registers: [registry] }),
    streamTopic: new Gauge({ name: 'cdc_stream_topic_info', help: "1 per stream and the topic it publishes to: joins the cdc's stream label with the topic label of the processor and loader", labelNames: ['stream', 'topic'], registers: [registry] }),
    // per captured collection (only those: the label's values are bounded by what the cdc captures)
    collectionPhase: new Gauge({ name: 'cdc_collection_phase', help: "1 for a captured collection's current phase (snapshot, streaming, stopped, dropped), 0 for the others", labelNames: ['collection', 'phase'], registers: [registry] }),
    collectionEvents: new Counter({ name: 'cdc_collection_events_total', help: 'Change events read per captured collection', labelNames: ['collection', 'op'], registers: [registry] }),
    collectionLastEvent: new Gauge({ name: 'cdc_collection_last_event_cluster_time_seconds', help: 'Cluster time of the last change event read per captured collection', labelNames: ['collection'], registers: [registry] }),
    collectionEventsSkipped: new Counter({ name: 'cdc_collection_events_skipped_total', help: 'Events of a scope collection stopped by a drop or rename (CDC_ON_STREAM_END=stop), not captured', labelNames: ['collection'], registers: [registry] }),
    collectionSnapshotDocuments: new Gauge({ name: 'cdc_collection_snapshot_documents', help: "Documents committed so far by a captured collection's current (or last) snapshot", labelNames: ['collection'], registers: [registry] }),
    collectionSnapshotEstimate: new Gauge({ name: 'cdc_collection_snapshot_estimated_documents', help: "Documents a collection held (or matched the filter) as its current (or last) snapshot began (MongoDB's estimate; a filtered one counted)", labelNames: ['collection'], registers: [registry] }),
    collectionResnapshots: new Counter({ name: 'cdc_collection_resnapshots_total', help: 'Re-snapshots of a collection asked for by an operator (POST /collections/<db.collection>/resnapshot) and accepted', labelNames: ['collection'], registers: [registry] }),
    collectionEventsPerSecond: new Gauge({
      name: 'cdc_collection_events_per_second',
      help: 'Change events read per second over the last minute, per captured collection',
      labelNames: ['collection'],
      registers: [registry],
      collect() {
        for (const c of collectionRates.source()) this.set({ collection: c.collection }, c.events_per_second);
      },
    }),
    collectionResumePointAge: new Gauge({
      name: 'cdc_collection_resume_point_age_seconds',
      help: 'Now minus the cluster time of the last committed checkpoint covering the collection (how far back a restart resumes it)',
      labelNames: ['collection'],
      registers: [registry],
      collect() {
        for (const c of collectionRates.source()) if (c.resume_point_age_seconds !== null) this.set({ collection: c.collection }, c.resume_point_age_seconds);
      },
    }),
    batchBytes: new Gauge({ name: 'cdc_batch_bytes', help: 'Bytes of the batch being published', labelNames: ['stream'], registers: [registry] }),
  };
}

export type CdcMetrics = ReturnType<typeof createCdcMetrics>;
