import { FatalError } from '@cdc/core';

/**
 * new: must recover (fence, read the committed offset, remove unannounced files) before turning records into rows;
 * ready: owns the partition; fenced: another owner claimed the transactional id, waiting for the rebalance;
 * closed: the service is stopping (a closed worker takes nothing and ignores rebalances).
 */
export type WorkerState = 'new' | 'ready' | 'fenced' | 'closed';

interface Operation {
  readonly legalStates: readonly WorkerState[];
  /** the state the operation leads to; none: it leaves the state as it is */
  readonly to?: WorkerState;
}

/**
 * Every operation of a partition worker, the states it is legal in and the state it leads to: the one table of the
 * state machine. `WorkerStateMachine.enter` refuses an operation in any other state.
 */
export const OPERATIONS = {
  /** take-over: fence the previous owner, read the committed offset, remove what it never announced */
  recover: { legalStates: ['new'], to: 'ready' },
  /** turn records into rows and resolve their offsets */
  take: { legalStates: ['ready'] },
  /** write a closed batch's file and commit it in a transaction */
  flush: { legalStates: ['ready'] },
  /** report the consumer lag (the position is known once recovered) */
  reportLag: { legalStates: ['ready', 'fenced'] },
  /** a transaction failed: everything after the last commit is read again, after a new recovery */
  fail: { legalStates: ['ready'], to: 'new' },
  /** a newer owner claimed the transactional id: wait for the rebalance that should explain it */
  fence: { legalStates: ['ready'], to: 'fenced' },
  /** no rebalance followed the fencing: take the partition back */
  takeBack: { legalStates: ['fenced'], to: 'new' },
  /** rebalance or revoke: the open batch is dropped, the partition must recover */
  reset: { legalStates: ['new', 'ready', 'fenced'], to: 'new' },
  close: { legalStates: ['new', 'ready', 'fenced', 'closed'], to: 'closed' },
} as const satisfies Record<string, Operation>;

export type WorkerOperation = keyof typeof OPERATIONS;

/** An operation called in a state the table does not allow it in: a bug, so the service ends. */
export class IllegalStateError extends FatalError {
  constructor(
    readonly worker: string,
    readonly operation: WorkerOperation,
    readonly state: WorkerState,
  ) {
    const { legalStates, to } = OPERATIONS[operation] as Operation;
    const transition = to ? `: no transition from ${state} to ${to}` : '';
    super(`partition worker ${worker}: ${operation} is illegal in state ${state} (legal in ${legalStates.join(', ')})${transition}`, { reason: 'illegal-state' });
  }
}

/**
 * The state of a partition worker and its epoch, which counts the changes of state: a batch belongs to the epoch
 * it was opened in and is never committed once the epoch has moved on (rebalance, failure, take-over, close),
 * since its records will be read again from the committed offset.
 */
export class WorkerStateMachine {
  #state: WorkerState = 'new';
  #epoch = 0;
  #since = Date.now();

  constructor(private readonly worker: string) {}

  get state(): WorkerState {
    return this.#state;
  }

  get epoch(): number {
    return this.#epoch;
  }

  /** when the current state was entered (ms since the epoch of the clock) */
  get since(): number {
    return this.#since;
  }

  isCurrent(epoch: number): boolean {
    return epoch === this.#epoch;
  }

  /** Whether the table allows the operation now. */
  can(operation: WorkerOperation): boolean {
    return (OPERATIONS[operation].legalStates as readonly WorkerState[]).includes(this.#state);
  }

  /** The one guard: refuses an operation the table does not allow now, and makes the change of state it leads to. */
  enter(operation: WorkerOperation): void {
    if (!this.can(operation)) throw new IllegalStateError(this.worker, operation, this.#state);
    const { to } = OPERATIONS[operation] as Operation;
    if (!to) return;
    this.#state = to;
    this.#epoch++;
    this.#since = Date.now();
  }
}
