/** Accumulates encoded messages until a count or byte bound is reached. */
export class BatchBuffer<T> {
  private items: T[] = [];
  private size = 0;

  constructor(
    private readonly maxItems: number,
    private readonly maxBytes: number,
  ) {}

  add(item: T, bytes: number): void {
    this.items.push(item);
    this.size += bytes;
  }

  get full(): boolean {
    return this.items.length >= this.maxItems || this.size >= this.maxBytes;
  }

  get length(): number {
    return this.items.length;
  }

  get bytes(): number {
    return this.size;
  }

  take(): T[] {
    const taken = this.items;
    this.items = [];
    this.size = 0;
    return taken;
  }
}
