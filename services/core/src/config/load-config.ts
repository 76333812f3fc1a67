import { z } from 'zod';
import { config as loadDotenv } from 'dotenv';
import { isSecret } from './secret.js';
import { redactUriCredentials } from '../logging/redact.js';
import { ServiceError } from '../errors/errors.js';

/** Config schemas are flat objects keyed by environment variable name, so errors name the variable. */
export type EnvSchema = z.ZodObject<Record<string, z.ZodType>>;

export interface ConfigProblem {
  variable: string;
  problem: string;
}

/** The environment does not make a valid configuration: the service does not start (exit code 78, EX_CONFIG from sysexits.h). */
export class ConfigError extends ServiceError {
  constructor(readonly problems: ConfigProblem[]) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p.variable}: ${p.problem}`).join('\n'),
      { reason: 'invalid-config', exitCode: 78 },
    );
  }
}

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  /** Path of a .env file; values already in the environment win over it. */
  dotenvPath?: string | false;
}

/** Parse the environment against the schema; collects every problem before failing. */
export function parseConfig<S extends EnvSchema>(schema: S, options: LoadConfigOptions = {}): z.output<S> {
  const env = options.env ?? process.env;
  if (options.dotenvPath !== false && env === process.env) {
    loadDotenv({ path: options.dotenvPath ?? '.env', quiet: true });
  }
  // Empty strings mean "unset": docker-compose and .env files write VAR= for optional values.
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    input[key] = value === undefined || value.trim() === '' ? undefined : value;
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const variable = String(issue.path[0] ?? '(config)');
    const field = schema.shape[variable];
    const received = input[variable];
    let problem = issue.code === 'invalid_type' && received === undefined ? 'is required but not set' : issue.message;
    if (received !== undefined && field && !isSecret(field)) {
      problem += ` (got "${redactUriCredentials(received)}")`;
    }
    return { variable, problem };
  });
  throw new ConfigError(problems);
}

/** Service entrypoints call this: on a bad environment it prints every problem and exits non-zero. */
export function loadConfig<S extends EnvSchema>(schema: S, options: LoadConfigOptions = {}): z.output<S> {
  try {
    return parseConfig(schema, options);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(error.exitCode);
    }
    throw error;
  }
}

/** A printable view of the parsed config with secret values masked. */
export function describeConfig<S extends EnvSchema>(schema: S, config: z.output<S>): Record<string, unknown> {
  const view: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config as Record<string, unknown>)) {
    const field = schema.shape[key];
    if (value === undefined) continue;
    view[key] = field && isSecret(field) ? '***' : typeof value === 'string' ? redactUriCredentials(value) : value;
  }
  return view;
}
