import { statfs } from 'node:fs/promises';
import { Gauge, type Registry } from 'prom-client';
import type { ReadinessCheck } from '../http/readiness.js';

/** Bytes an unprivileged process can still write on the file system holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return stats.bavail * stats.bsize;
}

export interface VolumeWatch {
  /** the reason while the free space is below `minFreeBytes` (or cannot be read), else null */
  check: ReadinessCheck;
  stop(): void;
}

const MiB = 1024 * 1024;

/** The free space of the volume holding `dir` as a gauge, read at each scrape. */
export function volumeFreeGauge(dir: string, registry: Registry, metricName: string): void {
  new Gauge({
    name: metricName,
    help: `Free bytes on the volume of ${dir} (for this process's user)`,
    registers: [registry],
    async collect() {
      this.set(await freeBytes(dir));
    },
  });
}

/**
 * The free-space gauge and a readiness check sampled every `everyMs`: a volume that fills up stops the files,
 * which is otherwise seen only in the logs.
 */
export function watchVolume(dir: string, settings: { registry: Registry; metricName: string; minFreeBytes: number; everyMs?: number }): VolumeWatch {
  volumeFreeGauge(dir, settings.registry, settings.metricName);
  let problem: string | null = null;
  const sample = () =>
    freeBytes(dir)
      .then((free) => {
        problem = free < settings.minFreeBytes ? `volume of ${dir} full: ${Math.floor(free / MiB)} MiB free, below ${Math.ceil(settings.minFreeBytes / MiB)} MiB` : null;
      })
      .catch((error: unknown) => {
        problem = `volume of ${dir} unreadable: ${(error as Error).message}`;
      });
  void sample();
  const timer = setInterval(() => void sample(), settings.everyMs ?? 10_000);
  timer.unref();
  return { check: () => problem, stop: () => clearInterval(timer) };
}
