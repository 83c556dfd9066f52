/**
 * Incomplete executions: `meta.incomplete = true` marks an execution whose end never arrived
 * (a start beacon stitched without its end). `INCOMPLETE` is their sample-rate-weighted share,
 * a calculation of queries and a metric of compare, explain and canary guards. Pure.
 */
import { invalidInput, type FlagscopeError } from '../errors.js';
import type { ColumnType, DatasetSchema } from './schema.js';
import type { Filter } from './spec.js';
import { shortName } from './suggest.js';

/** The column that marks executions stitched as incomplete (a start beacon without its end). */
export const INCOMPLETE_COLUMN = 'meta.incomplete';

/** Column types `INCOMPLETE` reads: the boolean the beacon route writes, or its text (`"true"`). */
const INCOMPLETE_TYPES: readonly ColumnType[] = ['boolean', 'string'];

/** The filter whose weighted share INCOMPLETE is: `meta.incomplete = true`, in the column's type. */
export function incompleteFilter(type: ColumnType): Filter {
  return { column: INCOMPLETE_COLUMN, op: '=', value: type === 'string' ? 'true' : true };
}

/** True when INCOMPLETE can be computed on the dataset: it has `meta.incomplete`, boolean (or its text). */
export function hasIncompleteColumn(schema: DatasetSchema): boolean {
  return schema.columns.some((c) => c.name === INCOMPLETE_COLUMN && INCOMPLETE_TYPES.includes(c.type));
}

/**
 * The type of the dataset's `meta.incomplete` column, or the error that says why INCOMPLETE
 * cannot be computed there: no such column (no stitched beacons), or a column of another type.
 *
 * @param where what asked for it, the start of the message (`calculations[0].op`, `metric INCOMPLETE`)
 */
export function incompleteColumnType(schema: DatasetSchema, where: string): ColumnType {
  const column = schema.columns.find((c) => c.name === INCOMPLETE_COLUMN);
  if (column !== undefined && INCOMPLETE_TYPES.includes(column.type)) return column.type;
  throw incompleteUnavailable(schema, where, column?.type);
}

function incompleteUnavailable(schema: DatasetSchema, where: string, type: ColumnType | undefined): FlagscopeError {
  const dataset = JSON.stringify(shortName(schema.dataset));
  if (type !== undefined) {
    return invalidInput(
      `${where}: INCOMPLETE needs ${INCOMPLETE_COLUMN} to be a boolean column, and in dataset ${dataset} it is ${type}`,
      `send ${INCOMPLETE_COLUMN} as true or false (the beacon route does), or use RATE on the column you have, e.g. RATE(${INCOMPLETE_COLUMN} = 1)`,
      { field: where, column: INCOMPLETE_COLUMN },
    );
  }
  return invalidInput(
    `${where}: dataset ${dataset} has no ${INCOMPLETE_COLUMN} column, so it has no incomplete executions to count`,
    `INCOMPLETE is the share of executions whose end never arrived, which the server marks ${INCOMPLETE_COLUMN} = true when it stitches browser beacons (POST /1/beacons/${shortName(schema.dataset)}); send beacons to this dataset, or query one that receives them (docs/query.md, "INCOMPLETE")`,
    { field: where, column: INCOMPLETE_COLUMN },
  );
}
