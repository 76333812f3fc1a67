import type { z } from 'zod';
import { ConfigError, describeConfig, loadConfig, type EnvSchema } from '../config/load-config.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { startOpsServer, type OpsServer } from '../http/ops-server.js';
import { Readiness, type ReadinessCheck } from '../http/readiness.js';
import { Shutdown } from '../lifecycle/shutdown.js';
import { ClientStuckError, isRetriable, ServiceError } from '../errors/errors.js';
import { formatTopicPlan, type TopicSpec } from '../kafka/topics.js';
import { formatAclPlan, type KafkaAcl } from '../kafka/acls.js';

/** Variables every service schema includes (`commonSettings`, `perServiceSettings`). */
interface CommonConfig {
  LOG_LEVEL: string;
  HTTP_PORT: number;
  HTTP_BIND_ADDRESS: string;
  SHUTDOWN_TIMEOUT_MS: number;
  SERVICE_INSTANCE?: string;
}

export interface ServiceContext<C> {
  config: C;
  logger: Logger;
  ops: OpsServer;
  shutdown: Shutdown;
  /** The service's one "stopping" (`shutdown.signal`): aborted as the shutdown starts; every unit is given it. */
  signal: AbortSignal;
  /** Set by the service once connected and working; served on /readyz. */
  setReady(ready: boolean): void;
  /** A condition that turns /readyz to 503 with its reason while it holds (after start too). */
  addReadinessCheck(name: string, check: ReadinessCheck): void;
  /** Ends the service for an error met after start-up (from a callback), as an error thrown by `main` would. */
  fail(error: unknown): void;
}

/**
 * The one way every service starts: config (exit 78 naming each bad variable), JSON logger, ops HTTP,
 * signal handling with a shutdown deadline. Fatal errors from `main` are logged and end the process non-zero.
 * With the argument --print-topics, a service that names its topics (`topics`) prints them (formatTopicPlan) for
 * its configuration and exits: deploy.sh creates topics from that, so names and settings have one source. Likewise
 * --print-acls prints the Kafka rights it needs (`acls`, formatAclPlan), which deploy.sh grants its principal.
 */
export async function runService<S extends EnvSchema>(
  service: string,
  schema: S,
  main: (ctx: ServiceContext<z.output<S>>) => Promise<void>,
  options: { topics?: (config: z.output<S>) => TopicSpec[]; acls?: (config: z.output<S>) => KafkaAcl[] } = {},
): Promise<void> {
  const config = loadConfig(schema) as z.output<S> & CommonConfig;
  if (options.topics && process.argv.includes('--print-topics')) {
    process.stdout.write(formatTopicPlan(options.topics(config)));
    return;
  }
  if (options.acls && process.argv.includes('--print-acls')) {
    // a configuration no least-privilege plan exists for is refused like a bad variable (exit 78, named)
    process.stdout.write(formatAclPlan(exitOnConfigError(() => options.acls!(config))));
    return;
  }
  const logger = createLogger({ service, level: config.LOG_LEVEL, instance: config.SERVICE_INSTANCE });
  logger.info({ config: describeConfig(schema, config) }, 'starting');
  const shutdown = new Shutdown(logger, config.SHUTDOWN_TIMEOUT_MS);
  const readiness = new Readiness(shutdown.signal);
  shutdown.installSignalHandlers();
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled rejection');
    void shutdown.run(1);
  });
  const fail = (error: unknown): Promise<void> => {
    const exitCode = (error as { exitCode?: number }).exitCode ?? 1;
    if (exitCode === 0) logger.info({ reason: (error as Error).message }, 'stopping');
    else logger.fatal({ err: error }, (error as Error).message);
    // a stuck client call holds a libuv pool thread: the shutdown steps (and process.exit) would wait on it
    if (error instanceof ClientStuckError) {
      shutdown.abort(error.reason);
      return Promise.resolve();
    }
    return shutdown.run(exitCode);
  };
  try {
    const ops = await startOpsServer({ service, host: config.HTTP_BIND_ADDRESS, port: config.HTTP_PORT, logger, readiness });
    shutdown.register('ops http server', () => ops.close());
    await main({
      config,
      logger,
      ops,
      shutdown,
      signal: shutdown.signal,
      setReady: (value) => readiness.setStarted(value),
      addReadinessCheck: (name, check) => readiness.add(name, check),
      fail: (error) => void fail(error),
    });
  } catch (error) {
    await fail(error);
  }
}

/** Start-up failures name what could not be reached, so the operator sees the cause, not a stack. */
export async function connectOrExplain<T>(what: string, connect: () => Promise<T>): Promise<T> {
  try {
    return await connect();
  } catch (error) {
    throw new ServiceError(`cannot ${what}: ${(error as Error).message}`, { reason: 'unreachable', retriable: isRetriable(error), cause: error });
  }
}

function exitOnConfigError<T>(make: () => T): T {
  try {
    return make();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(error.exitCode);
  }
}
