/**
 * Calculations to plans: what each one adds to the scan (`src`) and to the
 * per-group aggregate (`base`), and how its output columns are read back.
 */
import type { SqlDialect } from '../dialect.js';
import { calculationName } from '../format.js';
import { INCOMPLETE_COLUMN, incompleteFilter } from '../incomplete.js';
import type { ColumnType } from '../schema.js';
import { PERCENTILE_QUANTILE, type Calculation, type PercentileOp } from '../spec.js';
import { compileFilters } from './filters.js';
import { compilerBug, type ParamList } from './params.js';

/** How one calculation is computed and read back. */
export type CalcPlan =
  | { kind: 'scalar'; name: string; numeric: boolean; baseExpr: string }
  | { kind: 'listed-quantile'; name: string; listAlias: string; index: number }
  | { kind: 'weighted-quantile'; name: string; valueAlias: string; q: number; slot: number }
  | { kind: 'heatmap'; name: string; valueAlias: string };

/** Quantiles of one value column computed together as `alias`: unweighted, or weighted by the dialect's own aggregate. */
export interface ListedQuantiles {
  alias: string;
  qs: number[];
  /** Computed by the dialect's `weightedQuantiles`, always a list (else a list only for several quantiles). */
  weighted?: boolean;
}

/** The calculations of a query, planned. */
export interface CalculationPlans {
  /** One per calculation, in spec order; plan `i` writes output column `c{i}` (or `c{i}_lo`, `_w`, `_h`). */
  plans: CalcPlan[];
  /** Aggregates of the `base` CTE: the listed quantiles, then every scalar plan `i` as `a{i}`. */
  baseAggs: string[];
  /** Value alias → its unweighted quantiles. */
  listedQuantiles: Map<string, ListedQuantiles>;
  /** Value alias → its weighted quantiles, in slot order. */
  weightedQuantiles: Map<string, number[]>;
  /** Value aliases with a HEATMAP. */
  heatmapColumns: Set<string>;
}

/** The select list of the one scan, `src`: value columns get aliases `v0..`, RATE predicates `r0..`. */
export class ScanSelect {
  readonly columns: string[] = [];
  private readonly valueAliasByColumn = new Map<string, string>();
  private rates = 0;
  constructor(private readonly dialect: SqlDialect) {}

  /** Adds an expression that is already aliased (`expr AS alias`). */
  add(aliased: string): void {
    this.columns.push(aliased);
  }

  /** The alias of a column's value in `src`, selected once however many calculations read it. */
  valueOf(column: string): string {
    let alias = this.valueAliasByColumn.get(column);
    if (alias === undefined) {
      alias = `v${this.valueAliasByColumn.size}`;
      this.valueAliasByColumn.set(column, alias);
      this.columns.push(`${this.dialect.quoteIdent(column)} AS ${alias}`);
    }
    return alias;
  }

  /** The alias of a RATE predicate's truth value in `src` (false where the predicate is null). */
  rate(predicate: string): string {
    const alias = `r${this.rates++}`;
    this.columns.push(`coalesce(${predicate}, false) AS ${alias}`);
    return alias;
  }
}

/** What planning a calculation needs to know. */
export interface PlanningContext {
  scan: ScanSelect;
  types: Map<string, ColumnType>;
  params: ParamList;
  dialect: SqlDialect;
  /** The dataset has sample rates other than 1: every aggregate weighs rows by `w`. */
  weighted: boolean;
}

/** Plans every calculation and lists the `base` aggregates they need. */
export function planCalculations(calculations: Calculation[], context: PlanningContext): CalculationPlans {
  const planned: CalculationPlans = {
    plans: [],
    baseAggs: [],
    listedQuantiles: new Map(),
    weightedQuantiles: new Map(),
    heatmapColumns: new Set(),
  };
  for (const calc of calculations) planned.plans.push(planCalculation(calc, context, planned));
  const { dialect } = context;
  for (const [v, listed] of planned.listedQuantiles) {
    // With sampling, an engine's own weighted quantiles (the sample rate `w` is the weight).
    if (context.weighted && dialect.weightedQuantiles !== undefined) {
      listed.weighted = true;
      planned.baseAggs.push(`${dialect.weightedQuantiles(v, 'w', listed.qs)} AS ${listed.alias}`);
      continue;
    }
    planned.baseAggs.push(
      listed.qs.length === 1
        ? `${dialect.quantile(`${v}`, listed.qs[0] ?? 0.5)} AS ${listed.alias}`
        : `${dialect.quantiles(`${v}`, listed.qs)} AS ${listed.alias}`,
    );
  }
  planned.plans.forEach((plan, i) => {
    if (plan.kind === 'scalar') planned.baseAggs.push(`${plan.baseExpr} AS a${i}`);
  });
  return planned;
}

function planCalculation(calc: Calculation, context: PlanningContext, planned: CalculationPlans): CalcPlan {
  const name = calculationName(calc);
  if (calc.op === 'HEATMAP') {
    const v = context.scan.valueOf(requireColumn(calc));
    planned.heatmapColumns.add(v);
    return { kind: 'heatmap', name, valueAlias: v };
  }
  const scalar = scalarAggregate(calc, context);
  if (scalar !== undefined) return { kind: 'scalar', name, numeric: scalar.numeric, baseExpr: scalar.expr };
  const quantile = PERCENTILE_QUANTILE[calc.op as PercentileOp];
  if (quantile === undefined) throw compilerBug(`no SQL for calculation ${calc.op}`);
  const v = context.scan.valueOf(requireColumn(calc));
  if (context.weighted && context.dialect.weightedQuantiles === undefined) {
    const qs = planned.weightedQuantiles.get(v) ?? [];
    if (!planned.weightedQuantiles.has(v)) planned.weightedQuantiles.set(v, qs);
    qs.push(quantile);
    return { kind: 'weighted-quantile', name, valueAlias: v, q: quantile, slot: qs.length - 1 };
  }
  let listed = planned.listedQuantiles.get(v);
  if (listed === undefined) {
    listed = { alias: `q${planned.listedQuantiles.size}`, qs: [] };
    planned.listedQuantiles.set(v, listed);
  }
  listed.qs.push(quantile);
  return { kind: 'listed-quantile', name, listAlias: listed.alias, index: listed.qs.length - 1 };
}

/** The `base` aggregate of a calculation computed in one GROUP BY; undefined for percentiles and heatmaps. */
function scalarAggregate(calc: Calculation, context: PlanningContext): { expr: string; numeric: boolean } | undefined {
  const { scan, weighted } = context;
  const numeric = (expr: string): { expr: string; numeric: boolean } => ({ expr, numeric: true });
  switch (calc.op) {
    case 'COUNT':
      return numeric(weighted ? 'coalesce(CAST(sum(w) AS DOUBLE), 0)' : 'CAST(count(*) AS DOUBLE)');
    case 'RATE':
    case 'INCOMPLETE': {
      // INCOMPLETE is the RATE of meta.incomplete = true (validation checked the column is there).
      const filters = calc.op === 'RATE' ? (calc.filters ?? []) : [incompleteFilter(context.types.get(INCOMPLETE_COLUMN) ?? 'boolean')];
      const predicate = compileFilters(filters, calc.filter_combination ?? 'AND', context.types, context.params, context.dialect);
      if (predicate === undefined) throw compilerBug('RATE without filters');
      const r = scan.rate(predicate);
      return numeric(
        weighted ? `CAST(sum(CASE WHEN ${r} THEN w ELSE 0 END) AS DOUBLE) / CAST(sum(w) AS DOUBLE)` : `avg(CAST(${r} AS DOUBLE))`,
      );
    }
    case 'SUM': {
      const v = scan.valueOf(requireColumn(calc));
      return numeric(weighted ? `sum(CAST(${v} AS DOUBLE) * w)` : `CAST(sum(${v}) AS DOUBLE)`);
    }
    case 'AVG': {
      const v = scan.valueOf(requireColumn(calc));
      return numeric(
        weighted ? `sum(CAST(${v} AS DOUBLE) * w) / CAST(sum(w) FILTER (WHERE ${v} IS NOT NULL) AS DOUBLE)` : `avg(CAST(${v} AS DOUBLE))`,
      );
    }
    case 'MIN':
    case 'MAX': {
      const column = requireColumn(calc);
      const v = scan.valueOf(column);
      const isNumber = context.types.get(column) !== 'string';
      const agg = `${calc.op === 'MIN' ? 'min' : 'max'}(${v})`;
      return { expr: isNumber ? `CAST(${agg} AS DOUBLE)` : agg, numeric: isNumber };
    }
    case 'COUNT_DISTINCT':
      return numeric(`CAST(count(DISTINCT ${scan.valueOf(requireColumn(calc))}) AS DOUBLE)`);
    default:
      return undefined;
  }
}

function requireColumn(calc: Calculation): string {
  if (calc.column === undefined) throw compilerBug(`${calc.op} without a column`);
  return calc.column;
}
