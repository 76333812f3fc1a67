import { accessSync, constants, statSync } from 'node:fs';
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

/** Why `path` is not a file this process can read (or is empty, when it must hold something), or null. */
function fileProblem(path: string, nonEmpty: boolean): string | null {
  try {
    const stats = statSync(path);
    if (!stats.isFile()) return 'is not a file';
    accessSync(path, constants.R_OK);
    return nonEmpty && stats.size === 0 ? 'file is empty' : null;
  } catch {
    return 'file does not exist or cannot be read';
  }
}

/** Path of a file the service reads (a certificate): checked at start, so a typo names the variable. */
export const readableFile = (options: { nonEmpty?: boolean } = {}) =>
  z.string().superRefine((path, ctx) => {
    const problem = fileProblem(path, options.nonEmpty ?? false);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** Path of a file holding a secret (a mounted Kubernetes or Docker secret); errors never show its content. */
export const secretFile = () => readableFile({ nonEmpty: true });
