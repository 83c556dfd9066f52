import { describe, expect, it } from 'vitest';
import { buildHeatmapGrid, renderHeatmap, shadeLevel } from '../../src/output/heatmap.js';
import { downsample, renderSeriesChart, renderSparkline } from '../../src/output/sparkline.js';
import { queryRecords, renderQueryCharts, renderQueryTable } from '../../src/output/query-result.js';
import type { QueryResult } from '../../src/query/spec.js';

const T0 = Date.UTC(2026, 0, 15, 10, 0, 0);

describe('renderSparkline', () => {
  it('maps the minimum to the lowest block and the maximum to the full block', () => {
    expect(renderSparkline([0, 1, 2, 3, 4, 5, 6, 7])).toBe('▁▂▃▄▅▆▇█');
    expect(renderSparkline([10, null, 20])).toBe('▁ █');
  });

  it('draws equal values at mid height and uses a given range', () => {
    expect(renderSparkline([5, 5, 5])).toBe('▄▄▄');
    expect(renderSparkline([0, 7], { min: 0, max: 14 })).toBe('▁▅');
  });

  it('downsamples by averaging neighbours', () => {
    expect(downsample([1, 3, 5, 7], 2)).toEqual([2, 6]);
    expect(downsample([null, null, 4, 6], 2)).toEqual([null, 5]);
    expect(downsample([1, 2], 5)).toEqual([1, 2]);
  });
});

describe('renderSeriesChart', () => {
  it('draws one line per group with min and max labels and a UTC time axis', () => {
    const times = Array.from({ length: 12 }, (_, i) => T0 + i * 60_000);
    const out = renderSeriesChart(
      'P99(duration_ms)',
      [
        { label: 'api', values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] },
        { label: 'checkout', values: [12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, null] },
      ],
      { times, stepSeconds: 60, width: 80 },
    );
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toBe('P99(duration_ms)');
    expect(lines[1]).toBe('api       ▁▂▂▃▄▄▅▅▆▇▇█  min 1  max 12');
    expect(lines[2]).toBe('checkout  █▇▇▆▅▅▄▃▂▂▁   min 2  max 12');
    expect(lines[3]).toBe('          10:00  10:11 UTC');
  });
});

describe('heatmap', () => {
  const columns = [
    { time: T0, histogram: { lower: 0, width: 10, buckets: [8, 0, 0, 0] } },
    { time: T0 + 60_000, histogram: null },
    { time: T0 + 120_000, histogram: { lower: 0, width: 20, buckets: [0, 4] } },
  ];

  it('re-bins histograms of different widths onto one value axis', () => {
    const grid = buildHeatmapGrid(columns, 4, 60);
    expect(grid).toBeDefined();
    expect(grid?.lower).toBe(0);
    expect(grid?.upper).toBe(40);
    // Row 0 holds [0, 10): the first column's 8 events (midpoint 5). Row 3 holds [30, 40): midpoint 30 of the second histogram's bucket.
    expect(grid?.cells).toEqual([
      [8, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 4],
    ]);
  });

  it('merges columns beyond the maximum width by summing', () => {
    const grid = buildHeatmapGrid(columns, 4, 2);
    expect(grid?.cells[0]).toEqual([8, 0]);
    expect(grid?.cells[3]).toEqual([0, 4]);
    expect(grid?.times).toEqual([T0, T0 + 120_000]);
  });

  it('shades counts in four levels relative to the fullest cell', () => {
    expect([0, 1, 25, 26, 50, 75, 100].map((c) => shadeLevel(c, 100))).toEqual([0, 1, 1, 2, 2, 3, 4]);
  });

  it('renders value labels, shaded cells, a time axis and a legend', () => {
    const out = renderHeatmap('HEATMAP(duration_ms)', columns, { stepSeconds: 60, rows: 4 });
    expect(out).toBe(
      [
        'HEATMAP(duration_ms)',
        '40 ┐',
        '30 ┤  ▒',
        '20 ┤',
        '10 ┤',
        ' 0 ┤█',
        '   └───',
        '    10:00 UTC',
        '    events per cell: ░ >0–2  ▒ >2–4  ▓ >4–6  █ >6–8',
        '',
      ].join('\n'),
    );
  });

  it('says when there is no data', () => {
    expect(renderHeatmap('HEATMAP(x)', [{ time: T0, histogram: null }], { stepSeconds: 60 })).toContain('no data in this time range');
  });
});

const seriesResult: QueryResult = {
  query: {
    calculations: [{ op: 'COUNT' }],
    breakdowns: ['service.name'],
    granularity: 60,
    start_time: T0 / 1000,
    end_time: T0 / 1000 + 180,
  },
  data: {
    results: [{ data: { 'service.name': 'api', COUNT: 30 } }, { data: { 'service.name': 'web', COUNT: 3 } }],
    series: [
      { time: new Date(T0).toISOString(), data: { 'service.name': 'api', COUNT: 10 } },
      { time: new Date(T0).toISOString(), data: { 'service.name': 'web', COUNT: 1 } },
      { time: new Date(T0 + 120_000).toISOString(), data: { 'service.name': 'api', COUNT: 20 } },
      { time: new Date(T0 + 120_000).toISOString(), data: { 'service.name': 'web', COUNT: 2 } },
    ],
  },
  meta: { dataset: 'd', calculations: ['COUNT'], breakdowns: ['service.name'], duration_ms: 1 },
};

describe('query results', () => {
  it('puts breakdown columns before calculations in the table', () => {
    expect(renderQueryTable(seriesResult, { tty: true })).toBe('SERVICE.NAME  COUNT\napi              30\nweb               3\n');
    expect(renderQueryTable(seriesResult, { tty: false })).toBe('api\t30\nweb\t3\n');
  });

  it('gives series records with time first for machine formats', () => {
    const { header, records } = queryRecords(seriesResult);
    expect(header).toEqual(['time', 'service.name', 'COUNT']);
    expect(records[0]).toEqual({ time: '2026-01-15T10:00:00.000Z', 'service.name': 'api', COUNT: 10 });
    expect(records).toHaveLength(4);
  });

  it('charts only the groups of the table', () => {
    const limited: QueryResult = {
      ...seriesResult,
      data: { ...seriesResult.data, results: [{ data: { 'service.name': 'web', COUNT: 3 } }] },
    };
    expect(renderQueryCharts(limited, { width: 80 }).split('\n').slice(0, 3)).toEqual([
      'COUNT',
      'web  ▁ █  min 1  max 2',
      '     10:00 UTC',
    ]);
  });

  it('charts each group, leaving the empty bucket as a gap', () => {
    const out = renderQueryCharts(seriesResult, { width: 80 });
    expect(out.split('\n').slice(0, 3)).toEqual(['COUNT', 'api  ▁ █  min 10  max 20', 'web  ▁ █  min 1  max 2']);
  });
});

describe('time axis ends', () => {
  it('adds the date when a chart of sub-day buckets spans two UTC days', async () => {
    const { formatAxisEnds } = await import('../../src/output/time-axis.js');
    const start = Date.UTC(2026, 10, 22, 20, 30);
    const end = Date.UTC(2026, 10, 23, 20, 15);
    expect(formatAxisEnds(start, end, 900)).toEqual(['11-22 20:30', '11-23 20:15']);
    expect(formatAxisEnds(start, start + 3600_000, 900)).toEqual(['20:30', '21:30']);
    expect(formatAxisEnds(start, end, 86400)).toEqual(['11-22', '11-23']);
  });
});
