/**
 * Calls waiting for an answer from another thread, by id: a table of slots indexed by the id's low bits.
 *
 * Why not a `Map`: V8 replaces a Map's hash table as it grows and shrinks, and a replaced table keeps its entries
 * (for iterators that may still walk it) until the next full collection. A registry that lives as long as the
 * process is in the old generation, so each replaced table is old garbage that points at the calls waiting at the
 * time, their promises and the values those resolve to, and young-generation collections treat it as live. With
 * the scoring thread's calls in a Map, nearly every decision's JSON was promoted to the old generation (about 1.7 KB
 * per request on the event loop, scavenge pauses of 3–4 ms); in this table, 8 bytes per dry-run request and 99 per
 * durable one (docs/benchmarks.md, "Garbage collection"). The table only grows (by doubling, and the old array is
 * emptied), so it never leaves entries behind.
 */
export class CallRegistry<W> {
  private slots: Array<{ id: number; waiter: W } | undefined>;
  private nextId = 1;
  private count = 0;

  constructor(initialCapacity = 256) {
    let capacity = 16;
    while (capacity < initialCapacity) capacity *= 2;
    this.slots = new Array<{ id: number; waiter: W } | undefined>(capacity).fill(undefined);
  }

  /** Registers a waiter and returns its id (unique among the calls waiting). */
  add(waiter: W): number {
    if (this.count * 2 >= this.slots.length) this.grow();
    const mask = this.slots.length - 1;
    let id = this.nextId++;
    // A slot still held by a call that has waited a whole lap of ids: take the next id.
    while (this.slots[id & mask] !== undefined) id = this.nextId++;
    this.slots[id & mask] = { id, waiter };
    this.count += 1;
    return id;
  }

  /** The waiter of a call, removed; undefined for an id that is not waiting (answered already, or never added). */
  take(id: number): W | undefined {
    const index = id & (this.slots.length - 1);
    const entry = this.slots[index];
    if (entry === undefined || entry.id !== id) return undefined;
    this.slots[index] = undefined;
    this.count -= 1;
    return entry.waiter;
  }

  /** Every waiting call, removed (to fail them all when the other thread dies or stops). */
  takeAll(): W[] {
    const waiters: W[] = [];
    for (let i = 0; i < this.slots.length; i++) {
      const entry = this.slots[i];
      if (entry === undefined) continue;
      waiters.push(entry.waiter);
      this.slots[i] = undefined;
    }
    this.count = 0;
    return waiters;
  }

  get size(): number {
    return this.count;
  }

  private grow(): void {
    const old = this.slots;
    const slots = new Array<{ id: number; waiter: W } | undefined>(old.length * 2).fill(undefined);
    const mask = slots.length - 1;
    // Ids distinct modulo the old size are distinct modulo the new one: no two entries meet.
    for (const entry of old) if (entry !== undefined) slots[entry.id & mask] = entry;
    old.fill(undefined);
    this.slots = slots;
  }
}
