/** What the budget can ask of a partition's worker. */
export interface BudgetHolder {
  /** record bytes in its open batch */
  readonly openBytes: number;
  /** closes its open batch into a file now, if it can (false: nothing open, or not in a state to flush) */
  closeEarly(): boolean;
}

/**
 * The record bytes held by the open batches of every partition of one instance, against PROCESSOR_BUFFER_MAX_BYTES.
 * Past it, the largest open batch is closed into a file early (reason 'memory'): an instance's memory is bounded by
 * one number whatever the number of partitions it is assigned (dozens of collections, six partitions each, would
 * otherwise hold PROCESSOR_BATCH_MAX_BYTES each).
 */
export class BatchBudget {
  private held = 0;

  constructor(
    readonly maxBytes: number,
    /** every partition's worker of the instance */
    private readonly holders: () => Iterable<BudgetHolder>,
  ) {}

  get heldBytes(): number {
    return this.held;
  }

  change(bytes: number): void {
    this.held += bytes;
  }

  get exceeded(): boolean {
    return this.held > this.maxBytes;
  }

  /**
   * Once exceeded: closes the largest open batch, of whichever partition. Returns false when that is `caller`'s
   * own (or none could close): the caller closes its own, as it does for its own limits.
   */
  closeLargest(caller: BudgetHolder): boolean {
    let largest: BudgetHolder | null = null;
    for (const holder of this.holders()) if (holder.openBytes > (largest?.openBytes ?? 0)) largest = holder;
    if (largest === null || largest === caller) return false;
    return largest.closeEarly();
  }
}
