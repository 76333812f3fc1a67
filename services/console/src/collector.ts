import { parseExposition } from './exposition.js';
import type { ServiceReading } from './pipeline-state.js';

/** Reads one service's /metrics and /readyz; a service that does not answer within `timeoutMs` is down. */
export async function readService(service: { name: string; url: string }, timeoutMs: number): Promise<ServiceReading> {
  const reading: ServiceReading = { ...service, up: false, ready: null, reasons: {}, samples: [] };
  const [metrics, ready] = await Promise.allSettled([
    fetch(`${service.url}/metrics`, { signal: AbortSignal.timeout(timeoutMs) }),
    fetch(`${service.url}/readyz`, { signal: AbortSignal.timeout(timeoutMs) }),
  ]);
  try {
    if (metrics.status === 'rejected') throw metrics.reason;
    if (!metrics.value.ok) throw new Error(`/metrics answered ${metrics.value.status}`);
    reading.samples = parseExposition(await metrics.value.text());
    reading.up = true;
  } catch (error) {
    reading.error = describe(error);
  }
  try {
    if (ready.status === 'rejected') throw ready.reason;
    reading.ready = ready.value.ok;
    const body = (await ready.value.json()) as { reasons?: Record<string, unknown> };
    if (!ready.value.ok) reading.reasons = Object.fromEntries(Object.entries(body.reasons ?? { unknown: 'no reason given' }).map(([k, v]) => [k, String(v)]));
  } catch (error) {
    reading.error ??= describe(error);
  }
  return reading;
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause?.code;
  if ((error as Error).name === 'TimeoutError') return 'no answer in time';
  return cause ? `${cause}` : (error as Error).message;
}
