import { describe, expect, it } from 'vitest';
import { renderCsv, csvField, renderJson, renderNdjson } from '../../src/output/serialize.js';
import { renderTable } from '../../src/output/table.js';
import { stripAnsi } from '../../src/output/style.js';
import { createStyler } from '../../src/output/chalk-styler.js';
import { formatCount, formatIsoTime, formatNumberHuman, formatNumberShort, formatRelativeTime } from '../../src/output/values.js';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

describe('renderTable', () => {
  const columns = [{ header: 'NAME' }, { header: 'EVENTS', align: 'right' as const }, { header: 'LAST EVENT' }];
  const rows = [
    ['checkout', '10,000', '5 minutes ago'],
    ['search', '7', 'just now'],
  ];

  it('aligns columns under a header on a TTY', () => {
    expect(renderTable(columns, rows, { tty: true })).toBe(
      'NAME      EVENTS  LAST EVENT\n' + 'checkout  10,000  5 minutes ago\n' + 'search         7  just now\n',
    );
  });

  it('prints tab-separated rows without a header when piped', () => {
    expect(renderTable(columns, [['a\tb', '1', 'x\ny']], { tty: false })).toBe('a b\t1\tx y\n');
  });

  it('aligns by visible width when cells are coloured', () => {
    const styler = createStyler(true);
    const out = renderTable(
      [{ header: 'A' }, { header: 'B' }],
      [
        [styler.red('xx'), 'y'],
        ['x', 'y'],
      ],
      { tty: true },
    );
    expect(out).toContain('\u001b[');
    expect(stripAnsi(out)).toBe('A   B\nxx  y\nx   y\n');
  });

  it('cuts the widest column to fit the terminal', () => {
    const out = renderTable([{ header: 'K' }, { header: 'DESCRIPTION' }], [['a', 'x'.repeat(100)]], { tty: true, maxWidth: 30 });
    for (const line of out.trimEnd().split('\n')) expect([...line].length).toBeLessThanOrEqual(30);
    expect(out).toContain('…');
  });
});

describe('renderCsv (RFC 4180)', () => {
  it('quotes fields with commas, quotes and line breaks, and ends records with CRLF', () => {
    expect(
      renderCsv(
        ['a', 'b'],
        [
          ['x,y', 'say "hi"'],
          ['line\nbreak', 3],
          [null, true],
        ],
      ),
    ).toBe('a,b\r\n"x,y","say ""hi"""\r\n"line\nbreak",3\r\n,true\r\n');
  });

  it('writes objects as quoted JSON', () => {
    expect(csvField({ lower: 0, width: 1, buckets: [1, 2] })).toBe('"{""lower"":0,""width"":1,""buckets"":[1,2]}"');
  });
});

describe('JSON and NDJSON', () => {
  it('pretty-prints JSON and writes one compact document per NDJSON line', () => {
    expect(renderJson({ a: [1] })).toBe('{\n  "a": [\n    1\n  ]\n}\n');
    expect(renderNdjson([{ a: 1 }, { b: 'x' }])).toBe('{"a":1}\n{"b":"x"}\n');
    expect(renderNdjson([])).toBe('');
  });
});

describe('value formatting', () => {
  it('groups thousands and trims decimals for humans', () => {
    expect(formatCount(10000)).toBe('10,000');
    expect(formatCount(-1234567)).toBe('-1,234,567');
    expect(formatNumberHuman(1234.5678)).toBe('1,235');
    expect(formatNumberHuman(623.8292)).toBe('623.8');
    expect(formatNumberHuman(12.345678)).toBe('12.35');
    expect(formatNumberHuman(7.5)).toBe('7.5');
    expect(formatNumberHuman(0.00123456)).toBe('0.00123');
    expect(formatNumberHuman(3)).toBe('3');
    expect(formatNumberShort(1234)).toBe('1.23k');
    expect(formatNumberShort(2_500_000)).toBe('2.5M');
    expect(formatNumberShort(0.5)).toBe('0.5');
  });

  it('formats relative times against a fixed clock', () => {
    expect(formatRelativeTime(NOW - 10_000, NOW)).toBe('just now');
    expect(formatRelativeTime(NOW - 5 * 60_000, NOW)).toBe('5 minutes ago');
    expect(formatRelativeTime(NOW - 60_000, NOW)).toBe('1 minute ago');
    expect(formatRelativeTime(NOW - 3 * 3600_000, NOW)).toBe('3 hours ago');
    expect(formatRelativeTime(NOW - 2 * 86400_000, NOW)).toBe('2 days ago');
    expect(formatRelativeTime(NOW + 2 * 3600_000, NOW)).toBe('in 2 hours');
  });

  it('formats ISO-8601 times in UTC', () => {
    expect(formatIsoTime(NOW)).toBe('2026-01-15T12:00:00Z');
    expect(formatIsoTime(NOW + 5)).toBe('2026-01-15T12:00:00.005Z');
  });
});
