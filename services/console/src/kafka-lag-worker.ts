// The console's Kafka reader, in a child process of its own: librdkafka aborts the whole process on some admin
// calls that meet a broker going away (an assertion in rd_kafka_enq_once_del_source_return, seen here with
// ListConsumerGroupOffsets while the broker stopped), and that must not take the page down. The console forks it,
// asks it for the groups' lag over IPC and forks it again when it died.
import { createKafka, createLogger, kafkaSecurityOf, loadConfig, type Admin } from '@cdc/core';
import { consoleConfigSchema } from './config.js';
import { readGroupLag } from './kafka-lag.js';

export interface LagRequest {
  id: number;
  timeoutMs: number;
}

const config = loadConfig(consoleConfigSchema);
const logger = createLogger({ service: 'console', level: config.LOG_LEVEL, instance: 'kafka-reader' });
let admin: Admin | null = null;

async function answer({ id, timeoutMs }: LagRequest): Promise<void> {
  try {
    if (!admin) {
      admin = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'console', logger, security: kafkaSecurityOf(config) }).admin();
      await admin.connect();
    }
    process.send?.({ id, lag: await readGroupLag(admin, config.CONSOLE_KAFKA_GROUPS, timeoutMs), error: null });
  } catch (error) {
    process.send?.({ id, lag: null, error: (error as Error).message });
    // a fresh client after a failure (the workaround the client's maintainers point to for its admin faults)
    const failed = admin;
    admin = null;
    await failed?.disconnect().catch(() => undefined);
  }
}

process.on('message', (request: LagRequest) => void answer(request));
process.on('disconnect', () => process.exit(0));
