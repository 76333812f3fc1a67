import { accessSync, constants, statSync } from 'node:fs';
import { z } from 'zod';

// Reusable env-var field types: every value arrives as a string.

/** A whole number >= min (and <= max); >= 1 is zod's positive(), so its errors read as they always have. */
export const integer = (fallback: number, min: number, max?: number) => {
  const whole = z.coerce.number().int();
  const bounded = min === 1 ? whole.positive() : whole.min(min);
  return (max === undefined ? bounded : bounded.max(max)).default(fallback);
};

export const port = (fallback: number) => integer(fallback, 0, 65535);

export const positiveInt = (fallback: number) => integer(fallback, 1);

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

/** host:port */
export const broker = z.string().regex(/^[^\s:,]+:\d{1,5}$/, 'each broker must be host:port');

/** host:port,host:port */
export const brokerList = (fallback: string) => list(fallback).pipe(z.array(broker));

/** An IPv4 address to listen on. */
export const bindAddress = z.string().regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/, 'must be an IPv4 address (127.0.0.1: this host only; 0.0.0.0: every interface)');

// Kafka's own rule for topic names (org.apache.kafka.common.internals.Topic.validate): 1 to 249 of these
// characters, not "." nor "..". Names from the configuration also reach deploy.sh's topic creation (a shell script
// in the broker's container): nothing outside these characters gets there.
const KAFKA_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
const KAFKA_NAME_RULE = '1 to 249 of a-z A-Z 0-9 . _ -, not "." nor ".."';

/** A Kafka topic name. */
export const topicName = z.string().refine((name) => KAFKA_NAME.test(name) && name !== '.' && name !== '..', `must be a Kafka topic name (${KAFKA_NAME_RULE})`);

/**
 * A consumer group id. Kafka takes any non-empty string; ours keep to the topic characters, since they are also
 * ACL resource names, metric labels and log fields.
 */
export const groupId = z.string().refine((name) => KAFKA_NAME.test(name), `must be a consumer group id (${KAFKA_NAME_RULE})`);

/**
 * A name template with {placeholders}: what is around them must already be legal topic characters (what replaces
 * them is checked where it is known: the topic of each configured collection, at start).
 */
export const topicTemplate = (placeholders: readonly string[]) =>
  z.string().refine(
    (template) => /^[a-zA-Z0-9._-]*$/.test(placeholders.reduce((rest, p) => rest.replaceAll(`{${p}}`, ''), template)),
    `outside ${placeholders.map((p) => `{${p}}`).join(' and ')} only Kafka topic characters (a-z A-Z 0-9 . _ -)`,
  );

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
