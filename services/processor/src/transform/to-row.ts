import type { ChangeEvent, ParquetRow } from '@cdc/core';

// The column contract lives in @cdc/core (shared with the loader); re-exported for the processor's users.
export { PARQUET_COLUMNS, type ColumnSpec, type ColumnType, type ParquetRow } from '@cdc/core';

export interface SourcePosition {
  topic: string;
  partition: number;
  offset: number;
}

/** Envelope (already validated by decodeChangeEvent) → Parquet row. */
export function toRow(event: ChangeEvent, at: SourcePosition): ParquetRow {
  let wallTime: Date | null = null;
  if (event.wall_time !== null) {
    wallTime = new Date(event.wall_time);
    if (Number.isNaN(wallTime.getTime())) throw new Error(`wall_time ${JSON.stringify(event.wall_time)} is not a date`);
  }
  return {
    event_id: event.event_id,
    op: event.op,
    db: event.db,
    coll: event.coll,
    document_id: event.document_id,
    cluster_time: new Date(event.cluster_time.t * 1000),
    cluster_time_increment: event.cluster_time.i,
    wall_time: wallTime,
    snapshot: event.source.snapshot,
    source_instance: event.source.instance,
    resume_token: event.resume_token,
    document: event.document,
    document_before: event.document_before ?? null,
    update_description: event.update_description === null ? null : JSON.stringify(event.update_description),
    schema_version: event.schema_version,
    kafka_topic: at.topic,
    kafka_partition: at.partition,
    kafka_offset: at.offset,
  };
}
