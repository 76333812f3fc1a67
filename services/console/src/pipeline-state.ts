import { single, sumBy, type Sample } from './exposition.js';
import type { GroupLag } from './kafka-lag.js';

/** What Kafka said of the consumer groups' lag: the lag, or why it could not be read. */
export interface KafkaReading {
  lag: GroupLag[] | null;
  error: string | null;
}

/** What one reading of a service's /metrics and /readyz gave. */
export interface ServiceReading {
  name: string;
  url: string;
  /** /metrics answered */
  up: boolean;
  /** /readyz answered 200 (null: it did not answer) */
  ready: boolean | null;
  /** the reasons of a 503, by check */
  reasons: Record<string, string>;
  /** why the service could not be read */
  error?: string;
  samples: Sample[];
}

export interface ServiceHealth {
  name: string;
  up: boolean;
  ready: boolean;
  reasons: Record<string, string>;
  restarts: number;
  startedAt: number | null;
  nodeVersion: string | null;
  memoryBytes: number | null;
}

export interface CollectionState {
  /** the cdc stream (db.collection), or the topic when no running cdc names it */
  name: string;
  topic: string;
  phase: 'snapshot' | 'streaming' | 'unknown';
  freshnessSeconds: number | null;
  resumePointAgeSeconds: number | null;
  eventsPublished: number | null;
  rowsWritten: number | null;
}

export interface Problem {
  service: string;
  kind: 'dead letter' | 'quarantined file';
  where: string;
  reason: string;
  count: number;
  /** when the console saw the count grow (null: it was there at the console's first reading) */
  lastSeenAt: number | null;
  findThem: string;
}

export interface History {
  t: number[];
  /** one array per series, aligned with t (null: no value at that time) */
  series: Record<string, (number | null)[]>;
}

export interface ConsoleState {
  at: number;
  pollIntervalMs: number;
  services: ServiceHealth[];
  collections: CollectionState[];
  oplogWindowSeconds: number | null;
  lag: { service: string; topic: string; records: number }[];
  /** the consumer groups' lag from Kafka's committed offsets (null: not read yet) */
  kafka: KafkaReading | null;
  openBatches: { topic: string; rows: number; ageSeconds: number }[];
  budget: { today: number; projected: number; budget: number; left: number } | null;
  groupsLoaded: number | null;
  filesLoaded: number | null;
  problems: Problem[];
  /** events or rows per second per stage, freshness per collection, lag per service, over the last hour */
  throughput: History;
  freshness: History;
}

const HISTORY_MS = 60 * 60 * 1000;

/** The pipeline as the console's readings show it: the latest reading and the last hour's history. */
export class PipelineState {
  private readonly latest = new Map<string, ServiceReading>();
  private readonly startTimes = new Map<string, number>();
  private readonly restarts = new Map<string, number>();
  private readonly counters = new Map<string, { value: number; at: number }>();
  private readonly problems = new Map<string, Problem>();
  private readonly points: { t: number; throughput: Record<string, number | null>; freshness: Record<string, number | null> }[] = [];
  private readonly snapshotCounts = new Map<string, number>();
  private readonly snapshotStreams = new Set<string>();
  private kafka: KafkaReading | null = null;
  private at = 0;

  constructor(
    private readonly serviceOrder: readonly string[],
    private readonly pollIntervalMs: number,
  ) {}

  record(readings: readonly ServiceReading[], at: number, kafka: KafkaReading | null = null): void {
    this.at = at;
    this.kafka = kafka;
    for (const reading of readings) {
      this.latest.set(reading.name, reading);
      if (reading.up) this.noteStart(reading);
    }
    const all = readings.flatMap((r) => r.samples);
    this.noteProblems(all, at);
    this.noteSnapshots(all);
    const throughput: Record<string, number | null> = {
      'cdc: events published/s': this.rate('cdc', all, 'cdc_events_published_total', at),
      'processor: rows written/s': this.rate('processor', all, 'processor_rows_written_total', at),
      'loader: rows loaded/s': this.rate('loader', all, 'loader_rows_loaded_total', at),
    };
    const freshness: Record<string, number | null> = {};
    for (const [topic, seconds] of sumBy(all, 'loader_freshness_seconds', 'topic')) freshness[topic] = seconds;
    this.points.push({ t: at, throughput, freshness });
    while ((this.points[0]?.t ?? at) < at - HISTORY_MS) this.points.shift();
  }

  snapshot(): ConsoleState {
    const all = [...this.latest.values()].flatMap((r) => (r.up ? r.samples : []));
    const jobs = single(all, 'loader_load_jobs_today');
    const budget = single(all, 'loader_load_jobs_budget');
    return {
      at: this.at,
      pollIntervalMs: this.pollIntervalMs,
      services: this.serviceOrder.map((name) => this.health(name)),
      collections: this.collections(all),
      oplogWindowSeconds: single(all, 'cdc_oplog_window_seconds'),
      lag: (['processor', 'loader'] as const).flatMap((service) =>
        [...sumBy(all, `${service}_consumer_lag`, 'topic')].map(([topic, records]) => ({ service, topic, records })),
      ),
      kafka: this.kafka,
      openBatches: [...sumBy(all, 'processor_open_batch_rows', 'topic')].map(([topic, rows]) => ({
        topic,
        rows,
        ageSeconds: Math.max(0, ...all.filter((s) => s.name === 'processor_open_batch_age_seconds' && s.labels.topic === topic).map((s) => s.value)),
      })),
      budget:
        jobs === null || budget === null
          ? null
          : { today: jobs, projected: single(all, 'loader_load_jobs_projected') ?? 0, budget, left: Math.max(0, budget - jobs) },
      groupsLoaded: single(all, 'loader_group_seconds_count'),
      filesLoaded: sumOrNull(all, 'loader_files_loaded_total'),
      problems: [...this.problems.values()].sort((a, b) => (b.lastSeenAt ?? 0) - (a.lastSeenAt ?? 0)),
      throughput: this.history('throughput'),
      freshness: this.history('freshness'),
    };
  }

  private health(name: string): ServiceHealth {
    const reading = this.latest.get(name);
    const samples = reading?.up ? reading.samples : [];
    return {
      name,
      up: reading?.up ?? false,
      ready: reading?.ready === true,
      reasons: reading ? (reading.error ? { unreachable: reading.error, ...reading.reasons } : reading.reasons) : { starting: 'not read yet' },
      restarts: this.restarts.get(name) ?? 0,
      startedAt: this.startTimes.get(name) ?? null,
      nodeVersion: samples.find((s) => s.name === 'nodejs_version_info')?.labels.version ?? null,
      memoryBytes: single(samples, 'process_resident_memory_bytes'),
    };
  }

  /** a collection is a cdc stream (db.collection) and its topic (cdc_stream_topic_info), read by the later stages */
  private collections(all: readonly Sample[]): CollectionState[] {
    const topicOf = new Map<string, string>();
    for (const s of all) if (s.name === 'cdc_stream_topic_info' && s.labels.stream && s.labels.topic) topicOf.set(s.labels.stream, s.labels.topic);
    const published = sumBy(all, 'cdc_events_published_total', 'stream');
    const written = sumBy(all, 'processor_rows_written_total', 'topic');
    const freshness = sumBy(all, 'loader_freshness_seconds', 'topic');
    const resumeAge = sumBy(all, 'cdc_resume_point_age_seconds', 'stream');
    const rows: CollectionState[] = [...topicOf].map(([stream, topic]) => ({
      name: stream,
      topic,
      phase: this.snapshotStreams.has(stream) ? 'snapshot' : 'streaming',
      freshnessSeconds: freshness.get(topic) ?? null,
      resumePointAgeSeconds: resumeAge.get(stream) ?? null,
      // a counter without samples is 0 while its service answers, unknown while it does not
      eventsPublished: published.get(stream) ?? 0,
      rowsWritten: this.latest.get('processor')?.up ? (written.get(topic) ?? 0) : null,
    }));
    // topics the processor or loader read that no stream of a running cdc names (the cdc is down)
    const known = new Set(topicOf.values());
    for (const topic of new Set([...written.keys(), ...freshness.keys()])) {
      if (known.has(topic)) continue;
      rows.push({ name: topic, topic, phase: 'unknown', freshnessSeconds: freshness.get(topic) ?? null, resumePointAgeSeconds: null, eventsPublished: null, rowsWritten: written.get(topic) ?? null });
    }
    return rows.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** streams whose snapshot count grew since the previous reading of the cdc */
  private noteSnapshots(all: readonly Sample[]): void {
    if (!this.latest.get('cdc')?.up) return;
    this.snapshotStreams.clear();
    for (const [stream, value] of sumBy(all, 'cdc_snapshot_documents_total', 'stream')) {
      if (value > (this.snapshotCounts.get(stream) ?? value)) this.snapshotStreams.add(stream);
      this.snapshotCounts.set(stream, value);
    }
  }

  private noteStart(reading: ServiceReading): void {
    const started = single(reading.samples, 'process_start_time_seconds');
    if (started === null) return;
    const known = this.startTimes.get(reading.name);
    if (known !== undefined && known !== started) this.restarts.set(reading.name, (this.restarts.get(reading.name) ?? 0) + 1);
    this.startTimes.set(reading.name, started);
  }

  /** per second since the previous reading; a counter that went down (a restart) counts from 0 */
  private rate(service: string, all: readonly Sample[], name: string, at: number): number | null {
    const reading = this.latest.get(service);
    if (!reading?.up) return null;
    const value = sumOrNull(all, name);
    if (value === null) return null;
    const previous = this.counters.get(name);
    this.counters.set(name, { value, at });
    if (!previous || at <= previous.at) return null;
    const grown = value >= previous.value ? value - previous.value : value;
    return grown / ((at - previous.at) / 1000);
  }

  private noteProblems(all: readonly Sample[], at: number): void {
    const found: Omit<Problem, 'count' | 'lastSeenAt'>[] = [];
    const counts: number[] = [];
    for (const s of all) {
      if (s.name === 'cdc_dead_letters_total') {
        found.push({ service: 'cdc', kind: 'dead letter', where: s.labels.stream ?? '', reason: s.labels.reason ?? '', findThem: "the stream's <topic>.dlq; the cdc log names resume_token and event_id" });
      } else if (s.name === 'processor_dead_letters_total') {
        found.push({ service: 'processor', kind: 'dead letter', where: s.labels.topic ?? '', reason: s.labels.reason ?? '', findThem: `Kafka topic ${s.labels.topic ?? '<topic>'}.dlq (the record, its reason in the headers)` });
      } else if (s.name === 'loader_files_quarantined_total') {
        found.push({ service: 'loader', kind: 'quarantined file', where: s.labels.topic ?? '', reason: s.labels.reason ?? '', findThem: "quarantine/ of the bucket (or of the Parquet volume), reported on the files topic's .dlq" });
      } else continue;
      counts.push(s.value);
    }
    found.forEach((problem, i) => {
      const key = `${problem.service}|${problem.where}|${problem.reason}`;
      const known = this.problems.get(key);
      const count = counts[i] ?? 0;
      if (count <= 0 && !known) return;
      const grew = known ? count > known.count : this.at > 0 && this.points.length > 0;
      this.problems.set(key, { ...problem, count, lastSeenAt: grew ? at : (known?.lastSeenAt ?? null) });
    });
  }

  private history(which: 'throughput' | 'freshness'): History {
    const names = [...new Set(this.points.flatMap((p) => Object.keys(p[which])))].sort();
    return {
      t: this.points.map((p) => p.t / 1000),
      series: Object.fromEntries(names.map((name) => [name, this.points.map((p) => p[which][name] ?? null)])),
    };
  }
}

function sumOrNull(all: readonly Sample[], name: string): number | null {
  return all.some((s) => s.name === name) ? [...sumBy(all, name).values()].reduce((a, b) => a + b, 0) : null;
}
