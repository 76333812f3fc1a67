import type { MongoClient, Timestamp } from 'mongodb';
import { compareClusterTime, type ClusterTime, type Logger } from '@cdc/core';
import { clusterTimeOf } from '../transform/to-envelope.js';
import type { CdcMetrics } from '../metrics.js';

/** The oplog's oldest and newest entries: a resume point older than `oldest` can no longer be resumed from. */
export interface OplogWindow {
  oldest: ClusterTime;
  newest: ClusterTime;
}

/** First and last `ts` of local.oplog.rs (needs read on the `local` database). */
export async function readOplogWindow(client: MongoClient): Promise<OplogWindow> {
  const oplog = client.db('local').collection('oplog.rs');
  const end = async (natural: 1 | -1) => {
    const [entry] = await oplog.find({}, { sort: { $natural: natural }, limit: 1, projection: { ts: 1 } }).toArray();
    if (!entry) throw new Error('local.oplog.rs is empty (is the server a replica-set member?)');
    return clusterTimeOf(entry.ts as Timestamp);
  };
  return { oldest: await end(1), newest: await end(-1) };
}

export interface ResumePointStanding {
  /** seconds the resume point is behind the newest oplog entry */
  ageSeconds: number;
  /** that age as a share of the oplog's window (newest - oldest) */
  shareOfWindow: number;
  /** older than the oldest entry: a restart now fails with ChangeStreamHistoryLost */
  lost: boolean;
}

/** Where a stream's resume point stands in the oplog's window. */
export function standingOf(window: OplogWindow, resumePoint: ClusterTime): ResumePointStanding {
  const windowSeconds = window.newest.t - window.oldest.t;
  const ageSeconds = Math.max(0, window.newest.t - resumePoint.t);
  const lost = compareClusterTime(resumePoint, window.oldest) < 0;
  // A window within one second: only the exact comparison can tell.
  const shareOfWindow = windowSeconds > 0 ? ageSeconds / windowSeconds : lost ? 1 : 0;
  return { ageSeconds, shareOfWindow, lost };
}

/** Share of the window past which a stream's resume point is logged as at risk. */
const WARN_SHARE = 0.5;

export interface OplogWatchDeps {
  read(): Promise<OplogWindow>;
  streams(): { streamId: string; resumePoint: ClusterTime | null }[];
  metrics: CdcMetrics;
  logger: Logger;
}

/**
 * Compares every stream's resume point with the oplog's window: metrics, a warning once a resume point is older
 * than half the window (the cdc may then be down for at most the other half before a restart fails), and the
 * same numbers for /readyz. Monitoring only: a failed read is logged and never stops the service.
 */
export class OplogWatch {
  private readonly atRisk = new Set<string>();
  private readFailed = false;
  private last: Record<string, unknown> = { oplog: 'not read yet' };
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: OplogWatchDeps) {}

  /** Checks now, then every `intervalMs`; a check still running is not overlapped. */
  start(intervalMs: number): void {
    let running: Promise<void> | null = null;
    const tick = () => {
      running ??= this.check().finally(() => (running = null));
    };
    tick();
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** What /readyz shows. */
  get detail(): Record<string, unknown> {
    return this.last;
  }

  async check(): Promise<void> {
    const { metrics, logger } = this.deps;
    let window: OplogWindow;
    try {
      window = await this.deps.read();
    } catch (error) {
      if (!this.readFailed) logger.warn({ err: error }, 'cannot read the oplog window (local.oplog.rs; the cdc user needs read on the local database): resume point ages are not watched');
      this.readFailed = true;
      this.last = { oplog: `not readable: ${(error as Error).message}` };
      return;
    }
    this.readFailed = false;
    const windowSeconds = window.newest.t - window.oldest.t;
    metrics.oplogWindow.set(windowSeconds);
    const streams: Record<string, unknown> = {};
    for (const { streamId, resumePoint } of this.deps.streams()) {
      if (resumePoint === null) continue;
      const standing = standingOf(window, resumePoint);
      metrics.resumePointAge.set({ stream: streamId }, standing.ageSeconds);
      streams[streamId] = { resume_point: resumePoint, age_seconds: standing.ageSeconds, share_of_window: round(standing.shareOfWindow), lost: standing.lost };
      const risky = standing.lost || standing.shareOfWindow >= WARN_SHARE;
      if (risky && !this.atRisk.has(streamId)) {
        logger.warn(
          { streamId, resumePoint, ageSeconds: standing.ageSeconds, windowSeconds, lost: standing.lost },
          standing.lost
            ? 'resume point is no longer in the oplog: a restart of this stream fails (ChangeStreamHistoryLost)'
            : `resume point is older than ${WARN_SHARE * 100} % of the oplog window: a longer stop of the cdc loses its place`,
        );
      }
      if (risky) this.atRisk.add(streamId);
      else this.atRisk.delete(streamId);
    }
    this.last = { oplog: { oldest: window.oldest, newest: window.newest, window_seconds: windowSeconds }, streams };
  }
}

const round = (share: number) => Math.round(share * 1000) / 1000;
