/**
 * Where the tests' crash hooks can kill the cdc service: `in_transaction`, a transaction (over all streams) has sent
 * its records and is not committed.
 */
export const CDC_CRASH_HOOKS = { in_transaction: 'CDC_TEST_CRASH_IN_TRANSACTION' } as const;
