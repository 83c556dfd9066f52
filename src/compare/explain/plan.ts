/** Which columns an explanation analyses and how (categories or bucketed numbers), decided from a profile of the population. Pure. */
import type { ColumnType, DatasetSchema } from '../../query/schema.js';
import type { ValidatedExplain } from './request.js';

/** Columns with more distinct values than this (in the sample) are skipped as identifiers. */
export const MAX_CATEGORIES = 500;
/** Numeric columns with at most this many distinct values are treated as categories. */
export const CATEGORICAL_NUMBER_LIMIT = 12;
/** Buckets of numeric columns (quantiles of the sample). */
export const NUMERIC_BUCKETS = 16;

/** Datasets larger than this many stored rows are profiled on a block sample of about this many rows. */
export const PROFILE_FULL_SCAN_ROWS = 50_000;
/** The rest (unselected events) is analysed on a uniform sample of about this many rows; the selection always whole. */
export const REST_SAMPLE_ROWS = 100_000;

/** What the profile found per column. */
export interface ColumnProfile {
  name: string;
  distinct: number;
  /** Numeric columns: ascending distinct bucket edges. */
  edges?: number[];
}

/** What the profile found: per column, and the estimated size of each side. */
export interface PopulationProfile {
  columns: ColumnProfile[];
  /** Estimated events of the population (rows) and of the selection. */
  rows: number;
  selectedRows: number;
}

/** How one column is analysed. */
export interface ExplainColumnPlan {
  name: string;
  type: ColumnType;
  /** Categories compare value shares; numbers compare bucketed distributions. */
  mode: 'category' | 'number';
  /** Numbers: bucket edges (bucket i holds values with i edges ≤ value). */
  edges?: number[];
}

export interface ExplainPlan {
  columns: ExplainColumnPlan[];
  /** The rest is analysed on rows with hash(rowid) % restModulus = 0 (1: every row). */
  restModulus: number;
  /** Columns left out, and why. */
  skipped: { column: string; reason: string }[];
}

/** Decides, from the profile, which columns are analysed and how. */
export function planExplainColumns(
  schema: DatasetSchema,
  validated: ValidatedExplain,
  profile: PopulationProfile | undefined,
): ExplainPlan {
  const byName = new Map((profile?.columns ?? []).map((p) => [p.name, p]));
  const restRows = profile === undefined ? 0 : profile.rows - profile.selectedRows;
  const plan: ExplainPlan = { columns: [], skipped: [], restModulus: Math.max(1, Math.floor(restRows / REST_SAMPLE_ROWS)) };
  for (const column of candidateColumns(schema, validated)) {
    const profile = byName.get(column.name);
    const distinct = profile?.distinct ?? 0;
    if (distinct === 0) {
      plan.skipped.push({ column: column.name, reason: 'no values in the time range' });
      continue;
    }
    if (isNumeric(column.type) && distinct > CATEGORICAL_NUMBER_LIMIT && (profile?.edges?.length ?? 0) > 0) {
      plan.columns.push({ name: column.name, type: column.type, mode: 'number', edges: profile!.edges! });
      continue;
    }
    if (distinct > MAX_CATEGORIES) {
      plan.skipped.push({ column: column.name, reason: `about ${Math.round(distinct)} distinct values in a sample (an identifier)` });
      continue;
    }
    plan.columns.push({ name: column.name, type: column.type, mode: 'category' });
  }
  return plan;
}

/** True for integer and float columns. */
export function isNumeric(type: ColumnType): boolean {
  return type === 'integer' || type === 'float';
}

/** Columns worth explaining: everything but the internal ones and those the selection is defined by. */
export function candidateColumns(schema: DatasetSchema, validated: ValidatedExplain): { name: string; type: ColumnType }[] {
  const used = new Set(validated.selection.map((f) => f.column));
  return schema.columns.filter((c) => !c.name.startsWith('_') && !used.has(c.name)).map((c) => ({ name: c.name, type: c.type }));
}
