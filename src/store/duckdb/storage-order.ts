/**
 * The storage order of a dataset's table across deletions (docs/storage.md, "Retention and the
 * storage order"). Raw-event cursors are positions in DuckDB's `rowid`, which grows with every
 * commit; but the first checkpoint after rows were deleted may compact row groups, and then every
 * later row gets a smaller `rowid`. A cursor taken before would then skip the events stored after
 * it (or name a position past the end).
 *
 * So each retention deletion starts a new **epoch** of the table's order (persisted in the
 * datasets catalog, so a restart keeps it): the deletion, the checkpoint that compacts, and a
 * record of where the newest rows went all happen while the dataset's ingest is held, so no row
 * is stored in between. A cursor of the previous epoch is translated through that record: the
 * surviving rows keep their order, so the k-th survivor of the newest ones before is the k-th
 * after. A cursor older than that, or one the record does not reach, cannot be translated: the
 * reader answers it as a reset (the follow goes on from the newest event, and says so). While a
 * deletion runs, readers wait for it ({@link StorageOrderEpochs.settled}) and a read that
 * overlapped one is done again ({@link StorageOrderEpochs.version}).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { DATASETS_TABLE, quoteIdentifier } from './catalog.js';

/** The newest rows (by storage order) whose place a deletion records: a follow this far behind is translated exactly. */
export const TRANSLATED_ROWS = 50_000;

/** Where the newest survivors of one deletion went: translates positions of the epoch before it. */
interface Translation {
  /** The epoch whose positions it translates (the new one is `from + 1`). */
  from: number;
  /** The smallest position of the newest rows looked at before the deletion (deleted or not). */
  windowStart: bigint;
  /** True when the window held every row of the table. */
  complete: boolean;
  /** Old positions of the window's survivors, ascending. */
  before: BigInt64Array;
  /** Their positions after the compaction, ascending (the same rows, in the same order). */
  after: BigInt64Array;
  /** After the compaction, the position of the last survivor older than the window (-1: none). */
  belowAfter: bigint;
  /** The order's gap (max position + 1 − rows) and newest position right after the compaction. */
  gapAfter: bigint;
  floorAfter: bigint;
}

/** A cursor's place in the current epoch: its position, and the gap and floor that position counts with. */
export interface TranslatedPosition {
  position: bigint;
  gap: bigint;
  floor: bigint;
}

interface TableOrder {
  epoch: number;
  /** Odd while a deletion changes the order; a read that saw two values must be done again. */
  version: number;
  settling: Promise<void> | undefined;
  translation: Translation | undefined;
}

/** The window looked at before a deletion: its rows' positions and which of them the deletion keeps. */
export interface OrderWindow {
  windowStart: bigint;
  complete: boolean;
  survivors: bigint[];
}

export class StorageOrderEpochs {
  private readonly tables = new Map<string, TableOrder>();

  /** Adds the epoch column to a catalog from before it, and reads every dataset's epoch. */
  async load(connection: DuckDBConnection): Promise<void> {
    await connection.run(`ALTER TABLE ${DATASETS_TABLE} ADD COLUMN IF NOT EXISTS cursor_epoch BIGINT`);
    const rows = (await connection.runAndReadAll(`SELECT name, coalesce(cursor_epoch, 0) FROM ${DATASETS_TABLE}`)).getRows();
    for (const [name, epoch] of rows) this.tables.set(String(name), { ...this.order(String(name)), epoch: Number(epoch) });
  }

  private order(dataset: string): TableOrder {
    let order = this.tables.get(dataset);
    if (order === undefined) {
      order = { epoch: 0, version: 0, settling: undefined, translation: undefined };
      this.tables.set(dataset, order);
    }
    return order;
  }

  /** The dataset's epoch and change counter now. */
  current(dataset: string): { epoch: number; version: number } {
    const order = this.order(dataset);
    return { epoch: order.epoch, version: order.version };
  }

  /** Resolves once no deletion of the dataset is changing its order. */
  async settled(dataset: string): Promise<void> {
    for (let settling = this.order(dataset).settling; settling !== undefined; settling = this.order(dataset).settling) await settling;
  }

  /** A dataset deleted (or created anew under a new table): its order starts over. */
  forget(dataset: string): void {
    this.tables.delete(dataset);
  }

  /**
   * A position of the epoch before the current one in the current epoch's order (as it was right
   * after the deletion's compaction: its gap and floor come with it), or undefined when it cannot
   * be told (an older epoch, a position behind the recorded window, or a record lost to a restart).
   */
  translate(dataset: string, epoch: number, position: bigint): TranslatedPosition | undefined {
    const order = this.order(dataset);
    const t = order.translation;
    if (t === undefined || epoch !== t.from || order.epoch !== t.from + 1) return undefined;
    if (position < t.windowStart && !t.complete) return undefined;
    let seen = 0;
    while (seen < t.before.length && t.before[seen]! <= position) seen++;
    return { position: seen === 0 ? t.belowAfter : t.after[seen - 1]!, gap: t.gapAfter, floor: t.floorAfter };
  }

  /**
   * Marks the start of a deletion that may change the dataset's order: readers wait until the
   * returned function is called (once the deletion, its commit and its compaction are done). The
   * writer runs one exclusive task of a dataset at a time, so these never overlap.
   */
  begin(dataset: string): () => void {
    const order = this.order(dataset);
    let resolve: () => void = () => undefined;
    order.version++;
    order.settling = new Promise<void>((done) => {
      resolve = done;
    });
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      order.version++;
      order.settling = undefined;
      resolve();
    };
  }

  /**
   * After a committed deletion of rows (its epoch bump persisted with it): the epoch moves on, the
   * table is compacted now (`compact`: a checkpoint, false when it could not run), and where the
   * window's survivors went is recorded. Without a compaction nothing is recorded: cursors of the
   * previous epoch are then answered as a reset.
   */
  async recordDeletion(
    dataset: string,
    window: OrderWindow,
    steps: {
      compact: () => Promise<boolean>;
      newest: (count: number) => Promise<bigint[]>;
      lastBelow: (position: bigint | undefined) => Promise<bigint>;
      shape: () => Promise<{ newest: bigint; rows: bigint }>;
    },
  ): Promise<void> {
    const order = this.order(dataset);
    const from = order.epoch;
    order.epoch = from + 1;
    order.translation = undefined;
    if (!(await steps.compact())) return;
    const after = await steps.newest(window.survivors.length);
    const shape = await steps.shape();
    order.translation = {
      gapAfter: shape.newest < 0n ? 0n : shape.newest + 1n - shape.rows,
      floorAfter: shape.newest,
      from,
      windowStart: window.windowStart,
      complete: window.complete,
      before: BigInt64Array.from(window.survivors),
      after: BigInt64Array.from(after),
      belowAfter: await steps.lastBelow(after[0]),
    };
  }
}

/** The newest {@link TRANSLATED_ROWS} rows' positions of `table` and which survive `deleted` (a boolean SQL condition). */
export async function readOrderWindow(
  connection: DuckDBConnection,
  table: string,
  deleted: string,
  params: unknown[],
): Promise<OrderWindow> {
  const quoted = quoteIdentifier(table);
  const rows = (
    await connection.runAndReadAll(`SELECT rowid, ${deleted} FROM ${quoted} ORDER BY rowid DESC LIMIT ${TRANSLATED_ROWS}`, params as never)
  ).getRows();
  const [count] = (await connection.runAndReadAll(`SELECT count(*) FROM ${quoted}`)).getRows();
  const survivors = rows
    .filter((row) => row[1] !== true)
    .map((row) => BigInt(row[0] as bigint))
    .reverse();
  return {
    windowStart: rows.length === 0 ? -1n : BigInt(rows[rows.length - 1]![0] as bigint),
    complete: Number(count?.[0] ?? 0) <= rows.length,
    survivors,
  };
}
