import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { ConfigError, describeConfig, parseConfig } from './load-config.js';
import { setting, settingsSchema } from './settings.js';

const settings = {
  BATCH_SIZE: setting.int({ default: 100, min: 1, description: 'rows per batch' }),
  WAIT_MS: setting.durationMs({ default: 200, description: 'wait' }),
  MODE: setting.oneOf(['events', 'poll'], { default: 'events', description: 'how' }),
  ENABLED: setting.bool({ default: true, description: 'on' }),
  TOPICS: setting.list({ default: 'a,b', item: z.string().regex(/^[a-z]+$/, 'lower-case letters only'), values: 'topic,...', description: 'topics' }),
  BUCKET: setting.text({ example: 'cdc-staging', description: 'bucket; unset: none' }),
  URI: setting.secret(setting.text({ required: true, check: z.string().startsWith('mongodb'), description: 'where' })),
};
const schema = settingsSchema(settings);

test('each declaration carries its parser, default and what the docs show', () => {
  const config = parseConfig(schema, { env: { URI: 'mongodb://h' } });
  assert.deepEqual(
    { ...config },
    { BATCH_SIZE: 100, WAIT_MS: 200, MODE: 'events', ENABLED: true, TOPICS: ['a', 'b'], BUCKET: undefined, URI: 'mongodb://h' },
  );
  assert.equal(settings.BATCH_SIZE.default, '100');
  assert.equal(settings.BATCH_SIZE.values, 'integer >= 1');
  assert.equal(settings.WAIT_MS.values, 'ms, integer >= 1');
  assert.equal(settings.MODE.values, 'events | poll');
  assert.deepEqual(settings.MODE.choices, ['events', 'poll']);
  assert.equal(settings.BUCKET.default, undefined);
  assert.equal(settings.BUCKET.example, 'cdc-staging');
  assert.equal(settings.URI.required, true);
  assert.equal(settings.URI.secret, true);
});

test('bad values are reported by variable, as before (bounds, choices, list items, required)', () => {
  try {
    parseConfig(schema, { env: { BATCH_SIZE: '0', MODE: 'push', TOPICS: 'a,B', ENABLED: 'maybe' } });
    assert.fail('expected a ConfigError');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    const problems = Object.fromEntries(error.problems.map((p) => [p.variable, p.problem]));
    assert.deepEqual(Object.keys(problems).sort(), ['BATCH_SIZE', 'ENABLED', 'MODE', 'TOPICS', 'URI']);
    assert.match(problems.BATCH_SIZE!, /expected number to be >0 \(got "0"\)/);
    assert.match(problems.ENABLED!, /must be true or false/);
    assert.match(problems.TOPICS!, /lower-case letters only/);
    assert.equal(problems.URI, 'is required but not set');
  }
});

test('a secret declaration is masked in the start-up summary and never quoted in an error', () => {
  const config = parseConfig(schema, { env: { URI: 'mongodb://u:hunter2@h' } });
  assert.equal(describeConfig(schema, config).URI, '***');
  try {
    parseConfig(schema, { env: { URI: 'postgres://u:hunter2@h' } });
    assert.fail('expected a ConfigError');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.doesNotMatch(error.message, /hunter2/);
  }
});

test('int bounds: min 0 takes 0, a port stops at 65535, min -1 takes -1', () => {
  const bounds = settingsSchema({
    RETRIES: setting.int({ default: 5, min: 0, description: 'r' }),
    PORT: setting.port({ default: 8080, description: 'p' }),
    RETENTION_MS: setting.durationMs({ default: 1000, min: -1, description: 'forever: -1' }),
  });
  assert.deepEqual({ ...parseConfig(bounds, { env: { RETRIES: '0', PORT: '65535', RETENTION_MS: '-1' } }) }, { RETRIES: 0, PORT: 65535, RETENTION_MS: -1 });
  assert.throws(() => parseConfig(bounds, { env: { PORT: '65536' } }), /PORT/);
  assert.throws(() => parseConfig(bounds, { env: { RETENTION_MS: '-2' } }), /RETENTION_MS/);
});

test('valueOrFile declares NAME and NAME_FILE: the file must exist and hold something, the value may be secret', () => {
  const pair = setting.valueOrFile('TOKEN', { what: 'the token', secret: true, description: 'API token' });
  assert.deepEqual(Object.keys(pair), ['TOKEN', 'TOKEN_FILE']);
  assert.equal(pair.TOKEN.secret, true);
  assert.equal(pair.TOKEN.description, 'API token; or TOKEN_FILE');
  assert.match(pair.TOKEN_FILE.description, /^the token from a file instead/);
  const pairSchema = settingsSchema(pair);
  assert.equal(describeConfig(pairSchema, parseConfig(pairSchema, { env: { TOKEN: 's3cret' } })).TOKEN, '***');
  assert.throws(() => parseConfig(pairSchema, { env: { TOKEN_FILE: '/nonexistent/token' } }), /TOKEN_FILE: file does not exist or cannot be read/);
});
