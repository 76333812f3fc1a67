import { z } from 'zod';
import * as fields from './fields.js';
import { secret as markSecret } from './secret.js';

/**
 * One environment variable, declared once: its parser (a zod schema: what `parseConfig` checks, errors naming the
 * variable) and what the generated documentation says of it (`.env.example`, the README's settings tables). Made by
 * the constructors of `setting`; a service's settings are a record of these keyed by variable name, turned into its
 * config schema by `settingsSchema`.
 */
export interface Setting<Z extends z.ZodType = z.ZodType> {
  readonly schema: Z;
  readonly description: string;
  /** the values it takes, for the docs: `integer >= 1`, `never | initial`, `true | false` */
  readonly values: string;
  /** the words it takes, when it is one of a fixed set */
  readonly choices: readonly string[] | undefined;
  /** the default as written in an env file; undefined: no default (unset, or required) */
  readonly default: string | undefined;
  readonly required: boolean;
  /** what `.env.example` sets when that differs from the default (the docker stack's value, a placeholder) */
  readonly example: string | undefined;
  /**
   * the name `.env` gives it when that differs: compose and scripts/stack.sh hand CDC_HTTP_PORT to the cdc as
   * HTTP_PORT; null: never in `.env` (set per process)
   */
  readonly envFileName: string | null | undefined;
  /** never printed: not in the start-up log's config, not in configuration errors */
  readonly secret: boolean;
  /** what else reads it beyond the services whose schemas hold it (docker compose, deploy.sh) */
  readonly readBy: string | undefined;
}

/** A service's variables (or a group of them shared by services), keyed by name. */
export type Settings = Record<string, Setting>;

/** What every constructor takes beyond the value's own options. */
export interface SettingDoc {
  description: string;
  example?: string;
  envFileName?: string | null;
  readBy?: string;
}

function declare<Z extends z.ZodType>(
  schema: Z,
  doc: SettingDoc,
  meta: { values: string; choices?: readonly string[]; default?: string | number | boolean | undefined; required?: boolean },
): Setting<Z> {
  return {
    schema,
    description: doc.description,
    values: meta.values,
    choices: meta.choices,
    default: meta.default === undefined ? undefined : String(meta.default),
    required: meta.required ?? false,
    example: doc.example,
    envFileName: doc.envFileName,
    secret: false,
    readBy: doc.readBy,
  };
}

interface IntOptions extends SettingDoc {
  default: number;
  min: number;
  max?: number;
  /** what the number counts, for the docs (`ms` for durations) */
  unit?: string;
}

function int(o: IntOptions): Setting<ReturnType<typeof fields.integer>> {
  const range = o.max === undefined ? `>= ${o.min}` : `${o.min}..${o.max}`;
  return declare(fields.integer(o.default, o.min, o.max), o, { values: `${o.unit ? `${o.unit}, ` : ''}integer ${range}`, default: o.default });
}

interface TextOptions<C extends z.ZodType<string>> extends SettingDoc {
  /** the check of a set value (a pattern); plain string by default */
  check?: C;
  values?: string;
}

function text<C extends z.ZodType<string> = z.ZodString>(o: TextOptions<C> & { default: string }): Setting<z.ZodDefault<C>>;
function text<C extends z.ZodType<string> = z.ZodString>(o: TextOptions<C> & { required: true }): Setting<C>;
function text<C extends z.ZodType<string> = z.ZodString>(o: TextOptions<C>): Setting<z.ZodOptional<C>>;
function text(o: TextOptions<z.ZodType<string>> & { default?: string; required?: boolean }): Setting {
  const check = o.check ?? z.string();
  const values = o.values ?? 'string';
  if (o.default !== undefined) return declare(check.default(o.default), o, { values, default: o.default });
  if (o.required) return declare(check, o, { values, required: true });
  return declare(check.optional(), o, { values });
}

type FileSetting = ReturnType<typeof file>;

function file(o: SettingDoc & { secretContent?: boolean }) {
  return declare((o.secretContent ? fields.secretFile() : fields.readableFile()).optional(), o, {
    values: o.secretContent ? 'path of a file holding the value' : 'file path',
  });
}

/**
 * NAME and NAME_FILE: a value given directly, or as the path of a file holding it (a mounted Kubernetes or Docker
 * secret). Which one is set is checked with the other variables of the group (the Kafka security rules).
 */
function valueOrFile<N extends string>(
  name: N,
  o: TextOptions<z.ZodType<string>> & { what: string; secret?: boolean },
): Record<N, Setting<z.ZodOptional<z.ZodString>>> & Record<`${N}_FILE`, FileSetting> {
  const value = text({ ...o, description: `${o.description}; or ${name}_FILE` });
  const fromFile = file({
    secretContent: true,
    description: `${o.what} from a file instead (a path inside the container, e.g. a mounted secret; one line end is dropped)`,
  });
  return { [name]: o.secret ? secret(value) : value, [`${name}_FILE`]: fromFile } as Record<N, Setting<z.ZodOptional<z.ZodString>>> & Record<`${N}_FILE`, FileSetting>;
}

function secret<Z extends z.ZodType>(declared: Setting<Z>): Setting<Z> {
  return { ...declared, schema: markSecret(declared.schema), secret: true };
}

/** Settings declared with their parser and documentation; see `Setting`. */
export const setting = {
  /** A whole number within bounds. */
  int,
  /** A duration in milliseconds, a whole number >= 1 unless `min` says otherwise. */
  durationMs: (o: Omit<IntOptions, 'min' | 'unit'> & { min?: number }) => int({ ...o, min: o.min ?? 1, unit: 'ms' }),
  /** A TCP port. */
  port: (o: Omit<IntOptions, 'min' | 'max'>) => int({ ...o, min: 0, max: 65535 }),
  bool: (o: SettingDoc & { default: boolean }) => declare(fields.bool(o.default), o, { values: 'true | false', default: o.default }),
  /** One of a fixed set of words. */
  oneOf<const V extends readonly [string, ...string[]]>(options: V, o: SettingDoc & { default: V[number] }): Setting<z.ZodDefault<z.ZodEnum<{ [K in V[number]]: K }>>> {
    return declare(z.enum(options).default(o.default as never), o, { values: options.join(' | '), choices: options, default: o.default });
  },
  /** One of a fixed set of words, or unset. */
  optionalOneOf<const V extends readonly [string, ...string[]]>(options: V, o: SettingDoc): Setting<z.ZodOptional<z.ZodEnum<{ [K in V[number]]: K }>>> {
    return declare(z.enum(options).optional(), o, { values: options.join(' | '), choices: options });
  },
  /** A string: with a default, required, or else optional. */
  text,
  /** Comma-separated values, blanks dropped, at least one; each checked by `item`. */
  list<I extends z.ZodType<string, string>>(o: SettingDoc & { default: string; item: I; values: string }) {
    return declare(fields.list(o.default).pipe(z.array(o.item)), o, { values: o.values, default: o.default });
  },
  /** Path of a file the service reads, checked at start; `secretContent`: it holds a secret and must not be empty. */
  file,
  valueOrFile,
  /** A fault-injection hook for tests only: 0 (off) unless a test sets N, then the process kills itself `when`. */
  testCrashHook: (when: string) =>
    int({ default: 0, min: 0, envFileName: null, description: `tests only (fault injection), keep 0: N > 0 makes the process SIGKILL itself ${when}` }),
  /** The same setting, never printed (start-up log, configuration errors). */
  secret,
};

export type SettingsSchema<S extends Settings> = z.ZodObject<{ [K in keyof S]: S[K]['schema'] }>;

/** The config schema of a record of settings (refine it for rules between variables). */
export function settingsSchema<S extends Settings>(settings: S): SettingsSchema<S> {
  return z.object(Object.fromEntries(Object.entries(settings).map(([name, declared]) => [name, declared.schema]))) as unknown as SettingsSchema<S>;
}
