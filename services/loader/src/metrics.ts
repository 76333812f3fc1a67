import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function createLoaderMetrics(registry: Registry) {
  const newestLoaded = new Map<string, number>();
  const metrics = {
    filesLoaded: new Counter({ name: 'loader_files_loaded_total', help: 'Files loaded into the changes table and merged into the current table', labelNames: ['topic'], registers: [registry] }),
    rowsLoaded: new Counter({ name: 'loader_rows_loaded_total', help: 'Rows of the files loaded', labelNames: ['topic'], registers: [registry] }),
    alreadyLoaded: new Counter({
      name: 'loader_files_already_loaded_total',
      help: 'Files found already loaded (duplicate event, retry after a crash): not loaded again',
      labelNames: ['topic', 'how'],
      registers: [registry],
    }),
    quarantined: new Counter({ name: 'loader_files_quarantined_total', help: 'Files quarantined (moved to quarantine/, reported on the dead-letter topic)', labelNames: ['topic', 'reason'], registers: [registry] }),
    retries: new Counter({ name: 'loader_retries_total', help: 'Retries after transient errors', labelNames: ['step'], registers: [registry] }),
    loadSeconds: new Histogram({
      name: 'loader_load_seconds',
      help: 'Time to load one file: checksum, upload, load job, MERGE, marking',
      labelNames: ['topic'],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    }),
    consumerLag: new Gauge({ name: 'loader_consumer_lag', help: 'Files-topic high watermark minus the committed offset, per partition', labelNames: ['topic', 'partition'], registers: [registry] }),
    freshness: new Gauge({
      name: 'loader_freshness_seconds',
      help: 'Now minus the newest cluster time loaded (how far the warehouse is behind MongoDB)',
      labelNames: ['topic'],
      registers: [registry],
      collect() {
        const now = Date.now();
        for (const [topic, newest] of newestLoaded) this.set({ topic }, (now - newest) / 1000);
      },
    }),
    directLoads: new Gauge({ name: 'loader_direct_mode', help: '1 when files are loaded straight from the local disk (no usable bucket)', registers: [registry] }),
    /** records the newest cluster time loaded for a topic */
    noteLoaded(topic: string, maxClusterTime: string | null): void {
      if (!maxClusterTime) return;
      const t = Date.parse(maxClusterTime);
      if (!Number.isNaN(t) && t > (newestLoaded.get(topic) ?? 0)) newestLoaded.set(topic, t);
    },
  };
  return metrics;
}

export type LoaderMetrics = ReturnType<typeof createLoaderMetrics>;
