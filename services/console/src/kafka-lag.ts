import type { Admin } from '@cdc/core';

export interface GroupLag {
  group: string;
  topic: string;
  /** high watermark minus the committed offset, summed over the topic's partitions */
  records: number;
  partitions: number;
}

/**
 * The lag of consumer groups as Kafka keeps it (committed offsets against the high watermarks, read committed),
 * whether the group's service runs or not. A partition the group never committed counts from the log start.
 */
export async function readGroupLag(admin: Admin, groups: readonly string[], timeoutMs: number): Promise<GroupLag[]> {
  const lags: GroupLag[] = [];
  for (const group of groups) {
    const committed = await admin.fetchOffsets({ groupId: group, timeout: timeoutMs });
    for (const { topic, partitions } of committed) {
      const ends = new Map((await admin.fetchTopicOffsets(topic, { timeout: timeoutMs, isolationLevel: 1 })).map((o) => [o.partition, o]));
      let records = 0;
      for (const { partition, offset } of partitions) {
        const end = ends.get(partition);
        if (!end) continue;
        const from = Number(offset) >= 0 ? Number(offset) : Number(end.low);
        records += Math.max(0, Number(end.high) - from);
      }
      lags.push({ group, topic, records, partitions: partitions.length });
    }
  }
  return lags.sort((a, b) => a.group.localeCompare(b.group) || a.topic.localeCompare(b.topic));
}
