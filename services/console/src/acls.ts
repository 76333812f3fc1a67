import { describeGroup, describeTopic, type KafkaAcl } from '@cdc/core';
import type { ConsoleConfig } from './config.js';

/**
 * What the console's principal may do: see, never read or write. Its lag figures are the groups' committed offsets
 * (DESCRIBE on each group) against the ends of the topics those offsets name, which it learns from the groups, so
 * DESCRIBE on every topic (the wildcard): topic names and offsets, no record.
 */
export function consoleAcls(config: ConsoleConfig): KafkaAcl[] {
  return [...config.CONSOLE_KAFKA_GROUPS.map((group) => describeGroup(group)), describeTopic('*')];
}
