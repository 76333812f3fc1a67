import type { Document } from 'mongodb';

/**
 * $match stage giving instance `index` of `count` its share of one collection's documents, by hashed
 * document key. Needs $toHashedIndexKey (MongoDB 4.0+); see README for stand-in support.
 */
export function hashPartitionStage(index: number, count: number): Document {
  return {
    $match: {
      $expr: { $eq: [{ $abs: { $mod: [{ $toHashedIndexKey: '$documentKey._id' }, count] } }, index] },
    },
  };
}
