import { deadLetterTopicOf } from './topics.js';

/**
 * Topic templates (CDC_TOPIC_TEMPLATE: `{db}` and `{coll}` replaced by a collection's names) seen from the side of
 * those that read or grant the topics of collections not known in advance.
 */
const PLACEHOLDER = /\{(?:db|coll)\}/g;
/** What a placeholder becomes in a topic name: Kafka topic characters only (the cdc refuses any other). */
const TOPIC_CHARACTERS = '[a-zA-Z0-9._-]+';

/** The template's fixed text before its first placeholder: every topic it makes starts with it (a PREFIXED ACL). */
export function templatePrefix(template: string): string {
  const first = template.search(PLACEHOLDER);
  return first < 0 ? template : template.slice(0, first);
}

/** The template's fixed text after its last placeholder: every topic it makes ends with it. */
function templateSuffix(template: string): string {
  const parts = template.split(PLACEHOLDER);
  return parts[parts.length - 1] ?? '';
}

/**
 * Why a subscription to the template's topics would also take in dead-letter topics (`<topic>.dlq`), or null. Only a
 * fixed ending that no dead-letter topic can have keeps them apart (a placeholder may hold `.dlq`).
 */
export function templateSubscriptionProblem(template: string): string | null {
  const suffix = templateSuffix(template);
  const dlqSuffix = deadLetterTopicOf('');
  if (suffix === '') return 'must end with fixed text after its last placeholder (e.g. {coll}-cdc), or its topics cannot be told from their dead-letter topics (<topic>.dlq)';
  if (suffix.endsWith(dlqSuffix) || dlqSuffix.endsWith(suffix)) return `its fixed ending "${suffix}" is also the end of dead-letter topics (<topic>.dlq)`;
  return null;
}

/**
 * A regular expression matching exactly the topic names the template can make (whole name). Its source is both a
 * JavaScript and a POSIX extended expression (librdkafka's pattern subscriptions use the latter): anchored, fixed
 * text escaped, placeholders as runs of topic characters.
 */
export function templateTopicPattern(template: string): RegExp {
  const fixed = template.split(PLACEHOLDER).map((text) => text.replaceAll('.', '\\.'));
  return new RegExp(`^${fixed.join(TOPIC_CHARACTERS)}$`);
}
