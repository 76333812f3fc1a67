import { pino, type Logger, type LoggerOptions } from 'pino';
import { redactUriCredentials, scrubStrings } from './redact.js';

export type { Logger } from 'pino';

/** Key names whose values are always masked, at any of the first levels of a log object. */
export const SECRET_KEYS = ['password', 'passwd', 'secret', 'token', 'apiKey', 'api_key', 'privateKey', 'private_key', 'credentials', 'authorization'];

const redactPaths = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

export interface LoggerSettings {
  service: string;
  level?: string;
  instance?: string;
  destination?: pino.DestinationStream;
}

export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? 'info',
    base: { service: settings.service, ...(settings.instance ? { instance: settings.instance } : {}), pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactPaths, censor: '***' },
    formatters: {
      level: (label) => ({ level: label }),
      log: (object) => scrubStrings(object) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((a) => (typeof a === 'string' ? redactUriCredentials(a) : a)) as Parameters<typeof method>;
        method.apply(this, scrubbed);
      },
    },
  };
  // stdout written synchronously: pino's default writes through libuv's pool, which stuck native calls can fill
  // (ClientStuckError), and then the lines that would explain it are never written
  return pino(options, settings.destination ?? pino.destination({ dest: 1, sync: true }));
}
