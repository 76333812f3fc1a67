import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { javaCompatiblePartitioner, murmur2 } from './partitioner.js';

const metadata = (count: number, leaderless: number[] = []): PartitionMetadata[] =>
  Array.from({ length: count }, (_, partitionId) => ({ partitionId, leader: leaderless.includes(partitionId) ? -1 : 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));

test('murmur2 matches the Java client on its published vectors', () => {
  // From Kafka's UtilsTest.testMurmur2 (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java).
  const cases: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ];
  for (const [key, hash] of cases) assert.equal(murmur2(Buffer.from(key)), hash, key);
  assert.equal(murmur2(Buffer.from([97, 98, 99])), murmur2(Buffer.from('abc')));
});

test('every key lands on the same partition as with kafkajs DefaultPartitioner', () => {
  const ours = javaCompatiblePartitioner();
  const theirs = Partitioners.DefaultPartitioner();
  const keys: (string | Buffer)[] = ['', 'a', 'ab', 'abc', 'abcd', '{"$oid":"65a1b2c3d4e5f60718293a4b"}', 'Zürich – 東京 – 🚚', Buffer.from([0, 255, 128, 7, 9])];
  for (let i = 0; i < 5000; i++) keys.push(`{"$numberInt":"${i * 7919}"}`, 'k'.repeat(i % 97) + String(i));
  for (const partitions of [1, 6, 7, 64]) {
    const partitionMetadata = metadata(partitions);
    for (const key of keys) {
      const message = { key, value: 'v' };
      assert.equal(ours({ topic: 't', partitionMetadata, message }), theirs({ topic: 't', partitionMetadata, message }), `key ${String(key)}, ${partitions} partitions`);
    }
  }
});

test('an explicit partition wins; keyless messages go round robin over partitions with a leader', () => {
  const partitioner = javaCompatiblePartitioner();
  assert.equal(partitioner({ topic: 't', partitionMetadata: metadata(6), message: { key: 'x', value: 'v', partition: 4 } }), 4);
  const seen = new Set<number>();
  for (let i = 0; i < 12; i++) seen.add(partitioner({ topic: 't', partitionMetadata: metadata(6, [1, 3]), message: { value: 'v' } }));
  assert.deepEqual([...seen].sort(), [0, 2, 4, 5]);
});
