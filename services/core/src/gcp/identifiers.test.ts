import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../config/load-config.js';
import { settingsSchema } from '../config/settings.js';
import { groupId, topicName, topicTemplate } from '../config/fields.js';
import { bigQueryName, bucketNameProblem, gcpProjectId, gcpSettings, withGcpNameChecks } from './settings.js';

// Identifiers from the configuration reach SQL (table references) and deploy.sh's topic creation (a shell script):
// each is checked at start by the documented rules of the system that takes it, a bad one named by its variable.

const gcpSchema = withGcpNameChecks(settingsSchema(gcpSettings));
/** The variables a configuration error names, in order. */
function rejected(env: Record<string, string>): string[] {
  try {
    parseConfig(gcpSchema, { env, dotenvPath: false });
    return [];
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems.map((p) => `${p.variable}: ${p.problem}`);
  }
}

test('GCP_PROJECT: a Google Cloud project ID (6-30 lower-case letters, digits, hyphens; letter first; no hyphen last; optional domain scope)', () => {
  for (const good of ['local-project', 'my-proj-123', 'abcdef', 'example.com:my-project', `a${'b'.repeat(29)}`]) assert.ok(gcpProjectId.safeParse(good).success, good);
  for (const bad of ['abcde', `a${'b'.repeat(30)}`, '1project', 'project-', 'My-Project', 'my_project', 'p`; DROP TABLE x; --', 'my project']) {
    assert.equal(gcpProjectId.safeParse(bad).success, false, bad);
  }
  assert.match(rejected({ GCP_PROJECT: 'x`.y' }).join('\n'), /^GCP_PROJECT: must be a Google Cloud project ID/);
});

test('BQ_DATASET and the table names: letters, digits and underscores, 1 to 1024', () => {
  for (const good of ['cdc', 'Orders_2024', '_x', 'a'.repeat(1024)]) assert.ok(bigQueryName.safeParse(good).success, good);
  for (const bad of ['', 'a'.repeat(1025), 'my-dataset', 'a.b', 'cdc`', 'x y']) assert.equal(bigQueryName.safeParse(bad).success, false, bad);
  const problems = rejected({ BQ_DATASET: 'cdc`; DROP', BQ_CURRENT_TABLE: 'orders-current' }).join('\n');
  assert.match(problems, /BQ_DATASET: must be 1 to 1024 letters, digits and underscores/);
  assert.match(problems, /BQ_CURRENT_TABLE: must be 1 to 1024 letters, digits and underscores/);
});

test('GCS_BUCKET: Cloud Storage naming rules, checked with {project} replaced', () => {
  for (const good of ['cdc-staging', 'a_b-c', 'abc', 'a'.repeat(63), `${'a'.repeat(63)}.${'b'.repeat(63)}`, 'my.bucket.example']) assert.equal(bucketNameProblem(good), null, good);
  const cases: [string, RegExp][] = [
    ['Cdc-staging', /lower-case letters/],
    ['-cdc', /starting and ending with a letter or digit/],
    ['cdc-', /starting and ending with a letter or digit/],
    ['ab', /3 to 63 characters/],
    ['a'.repeat(64), /3 to 63 characters/],
    [`${'a'.repeat(64)}.b`, /each dot-separated part/],
    ['a..b', /each dot-separated part/],
    ['192.168.1.1', /IP address/],
    ['goog-staging', /"goog"/],
    ['my-google-bucket', /"google"/],
    ['a b', /lower-case letters/],
  ];
  for (const [bad, why] of cases) assert.match(bucketNameProblem(bad) ?? 'accepted', why, bad);
  assert.deepEqual(rejected({ GCP_PROJECT: 'my-project', GCS_BUCKET: '{project}-cdc-staging' }), []);
  assert.match(rejected({ GCP_PROJECT: 'example.com:my-project', GCS_BUCKET: '{project}-cdc-staging' }).join('\n'), /^GCS_BUCKET: example\.com:my-project-cdc-staging: must be lower-case/);
  assert.match(rejected({ GCP_PROJECT: 'my-project', GCS_BUCKET: `{project}-${'x'.repeat(60)}` }).join('\n'), /^GCS_BUCKET: .*3 to 63 characters/);
});

test('topic names: Kafka\'s rule, 1 to 249 of a-z A-Z 0-9 . _ -, not "." nor ".."', () => {
  for (const good of ['orders-cdc', 'a.b_c-D9', 'x'.repeat(249), '...']) assert.ok(topicName.safeParse(good).success, good);
  for (const bad of ['', '.', '..', 'x'.repeat(250), 'orders cdc', "t'; rm -rf /", 'ordres/cdc', 'tópico']) assert.equal(topicName.safeParse(bad).success, false, bad);
});

test('consumer group ids: the topic characters (they are ACL resource names, metric labels and log fields too)', () => {
  for (const good of ['processor', 'loader.v2', 'a_b-C']) assert.ok(groupId.safeParse(good).success, good);
  for (const bad of ['', 'my group', 'g"x', 'x'.repeat(250)]) assert.equal(groupId.safeParse(bad).success, false, bad);
});

test('topic templates: around their placeholders only topic characters', () => {
  const template = topicTemplate(['db', 'coll']);
  for (const good of ['{coll}-cdc', '{db}.{coll}', 'cdc_{db}_{coll}']) assert.ok(template.safeParse(good).success, good);
  for (const bad of ['{coll} cdc', '{coll}/cdc', '{coll}-{other}', "{coll}'"]) assert.equal(template.safeParse(bad).success, false, bad);
});
