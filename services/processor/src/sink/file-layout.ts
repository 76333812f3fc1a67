import { parseFileName, parseTempName, type ExistingFile, type FileRange } from '@cdc/core';

// File naming lives in @cdc/core (shared with the loader); re-exported for the processor's users.
export { dayOf, fileId, fileName, parseFileName, parseTempName, relativeFilePath, tempName, type ExistingFile, type FileRange } from '@cdc/core';

/**
 * Recovery after taking over a partition (its previous owner fenced, committed offset read afterwards): which of
 * the files under `<topic>/` belong to this partition and were never announced. A file is announced in the same
 * transaction that commits past its last offset, so a file starting at or after the committed offset is a
 * leftover of a crash between rename and commit; temp files are always leftovers. With no committed offset
 * (`null`: new group, or offsets expired) only temp files are removed: deleting files whose announcement cannot
 * be proven absent would risk losing announced data, and an unannounced file is never loaded.
 */
export function leftoverFiles(files: readonly ExistingFile[], topic: string, partition: number, committed: number | null): string[] {
  const mine = (range: FileRange | null) => range !== null && range.topic === topic && range.partition === partition;
  const doomed: string[] = [];
  for (const file of files) {
    const target = parseTempName(file.name);
    if (target !== null) {
      if (mine(parseFileName(target))) doomed.push(file.path);
      continue;
    }
    const range = parseFileName(file.name);
    if (mine(range) && committed !== null && range!.firstOffset >= committed) doomed.push(file.path);
  }
  return doomed;
}
