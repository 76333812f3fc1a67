import { z } from 'zod';

// Reusable env-var field types: every value arrives as a string.

export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

export const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const nonNegativeInt = (fallback: number) => z.coerce.number().int().min(0).default(fallback);
/** Kafka retention in ms; -1 = forever */
export const retentionMs = (fallback: number) => z.coerce.number().int().min(-1).default(fallback);

export const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Comma-separated list, blanks dropped. */
export const list = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string()).min(1, 'must name at least one value'));

export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');

/** host:port,host:port */
export const brokerList = (fallback: string) =>
  list(fallback).pipe(
    z.array(z.string().regex(/^[^\s:,]+:\d{1,5}$/, 'each broker must be host:port')),
  );

export const nonEmpty = (fallback: string) => z.string().min(1).default(fallback);
