import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FatalError } from '@cdc/core';
import { IllegalStateError, OPERATIONS, WorkerStateMachine, type WorkerOperation, type WorkerState } from './worker-state.js';

const operations = Object.keys(OPERATIONS) as WorkerOperation[];

/** A machine brought into `state` through legal operations only. */
function machineIn(state: WorkerState): WorkerStateMachine {
  const machine = new WorkerStateMachine('t/0');
  const path: Record<WorkerState, WorkerOperation[]> = { new: [], ready: ['recover'], fenced: ['recover', 'fence'], closed: ['close'] };
  for (const operation of path[state]) machine.enter(operation);
  assert.equal(machine.state, state);
  return machine;
}

for (const state of ['new', 'ready', 'fenced', 'closed'] as const) {
  test(`in state ${state}, every operation the table does not allow is refused with an error naming it, and changes nothing`, () => {
    const illegal = operations.filter((operation) => !(OPERATIONS[operation].legalStates as readonly WorkerState[]).includes(state));
    assert.ok(illegal.length > 0, 'every state has operations it refuses');
    for (const operation of illegal) {
      const machine = machineIn(state);
      const epoch = machine.epoch;
      assert.equal(machine.can(operation), false);
      assert.throws(
        () => machine.enter(operation),
        (error: unknown) => {
          assert.ok(error instanceof IllegalStateError && error instanceof FatalError, 'an illegal state ends the service');
          assert.equal(error.operation, operation);
          assert.equal(error.state, state);
          assert.match(error.message, new RegExp(`^partition worker t/0: ${operation} is illegal in state ${state} \\(legal in [a-z, ]+\\)`));
          return true;
        },
      );
      assert.equal(machine.state, state, `${operation} left the state as it was`);
      assert.equal(machine.epoch, epoch, `${operation} left the epoch as it was`);
    }
  });
}

test('every legal operation is allowed and leads where the table says; each change of state starts a new epoch', () => {
  for (const state of ['new', 'ready', 'fenced', 'closed'] as const) {
    for (const operation of operations) {
      const { legalStates, to } = OPERATIONS[operation] as { legalStates: readonly WorkerState[]; to?: WorkerState };
      if (!legalStates.includes(state)) continue;
      const machine = machineIn(state);
      const epoch = machine.epoch;
      assert.equal(machine.can(operation), true);
      machine.enter(operation);
      assert.equal(machine.state, to ?? state, `${operation} from ${state}`);
      assert.equal(machine.epoch, to ? epoch + 1 : epoch, `${operation} from ${state}`);
      assert.equal(machine.isCurrent(epoch), !to);
    }
  }
});

test('a transition the table does not list names both states', () => {
  const machine = machineIn('fenced');
  assert.throws(() => machine.enter('recover'), /recover is illegal in state fenced \(legal in new\): no transition from fenced to ready/);
  assert.throws(() => machineIn('closed').enter('reset'), /reset is illegal in state closed \(legal in new, ready, fenced\): no transition from closed to new/);
});
