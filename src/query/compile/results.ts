/** Which groups the results keep and in what order: havings, orders and the limit of a compiled query. */
import type { SqlDialect } from '../dialect.js';
import { calculationName } from '../format.js';
import type { Calculation, Order } from '../spec.js';
import type { NormalizedQuery } from '../validate.js';
import type { CalcPlan } from './calculations.js';
import { compilerBug, type ParamList } from './params.js';

const HAVING_SQL_OP: Record<string, string> = { '=': '=', '!=': '<>', '>': '>', '>=': '>=', '<': '<', '<=': '<=' };

/**
 * The ORDER BY terms over the `agg` columns: the query's orders, then every breakdown not ordered yet, ascending
 * (`1` when there is nothing to order by).
 */
export function orderByClause(q: NormalizedQuery, plans: CalcPlan[], groupAliases: string[]): string {
  const planIndexByName = new Map(plans.map((p, i) => [p.name, i]));
  const orderTerms: string[] = [];
  const orderedGroups = new Set<string>();
  for (const order of q.orders) {
    const direction = order.order === 'ascending' ? 'ASC' : 'DESC';
    if (order.op === undefined) {
      const index = q.breakdowns.indexOf(order.column ?? '');
      if (index < 0) throw compilerBug('order by a column that is not a breakdown');
      orderTerms.push(`g${index} ${direction} NULLS LAST`);
      orderedGroups.add(`g${index}`);
    } else {
      const index = planIndexByName.get(calculationName(orderCalculation(order)));
      if (index === undefined) throw compilerBug('order by a calculation missing from the query');
      orderTerms.push(`c${index} ${direction} NULLS LAST`);
    }
  }
  for (const g of groupAliases) if (!orderedGroups.has(g)) orderTerms.push(`${g} ASC NULLS LAST`);
  return orderTerms.length > 0 ? orderTerms.join(', ') : '1';
}

/** ` WHERE …` over the `agg` columns for the query's havings (thresholds bound as parameters), or empty. */
export function havingClause(q: NormalizedQuery, plans: CalcPlan[], params: ParamList, dialect: SqlDialect): string {
  const planIndexByName = new Map(plans.map((p, i) => [p.name, i]));
  const havingTerms = q.havings.map((h) => {
    const calc: Calculation = { op: h.calculate_op };
    if (h.column !== undefined) calc.column = h.column;
    if (h.filters !== undefined) {
      calc.filters = h.filters;
      calc.filter_combination = h.filter_combination ?? 'AND';
    }
    const index = planIndexByName.get(calculationName(calc));
    if (index === undefined) throw compilerBug('having on a calculation missing from the query');
    return `c${index} ${HAVING_SQL_OP[h.op] ?? '='} ${params.bind(h.value, dialect.sqlType('float'))}`;
  });
  return havingTerms.length > 0 ? ` WHERE ${havingTerms.join(' AND ')}` : '';
}

function orderCalculation(order: Order): Calculation {
  const calc: Calculation = { op: order.op ?? 'COUNT' };
  if (order.column !== undefined) calc.column = order.column;
  if (order.filters !== undefined) {
    calc.filters = order.filters;
    calc.filter_combination = order.filter_combination ?? 'AND';
  }
  return calc;
}
