import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dedupedChanges, documentIdCandidates, orderHistory, orderViews, revenuePerDay } from './queries.js';

const names = { project: 'p', dataset: 'cdc', changesTable: 'orders_changes', currentTable: 'orders_current' };

test('an id typed at the prompt stands for every Extended JSON form it can have', () => {
  assert.deepEqual(documentIdCandidates('65a1f0c2e4b0a1b2c3d4e5F6'), ['{"$oid":"65a1f0c2e4b0a1b2c3d4e5f6"}', '"65a1f0c2e4b0a1b2c3d4e5F6"']);
  assert.deepEqual(documentIdCandidates('7'), ['{"$numberInt":"7"}', '{"$numberLong":"7"}', '{"$numberDouble":"7.0"}', '"7"']);
  assert.deepEqual(documentIdCandidates('order-1'), ['"order-1"']);
  assert.deepEqual(documentIdCandidates(' {"$numberInt":"7"} '), ['{"$numberInt":"7"}']);
});

test('ready queries use parameters, the typed views of the collection and the dataset tables', () => {
  const views = orderViews(names, 'orders');
  assert.deepEqual(views, { current: '`p.cdc.orders`', history: '`p.cdc.orders_history`' });
  const history = orderHistory(views, '7');
  assert.match(history.query, /FROM `p\.cdc\.orders_history`\nWHERE _document_id IN UNNEST\(@ids\)/);
  assert.match(revenuePerDay(views, 7).query, /SUM\(o\.total\) AS revenue\nFROM `p\.cdc\.orders` AS o\nJOIN \(SELECT _document_id, MIN\(_cluster_time\) AS seen FROM `p\.cdc\.orders_history`/);
  assert.deepEqual(history.params, { ids: documentIdCandidates('7') });
  assert.match(dedupedChanges(names), /QUALIFY ROW_NUMBER\(\) OVER \(PARTITION BY event_id ORDER BY kafka_topic, kafka_partition, kafka_offset\) = 1$/);
});
