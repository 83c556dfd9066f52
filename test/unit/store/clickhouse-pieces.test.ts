/**
 * The pure pieces of the ClickHouse event store: event-store URLs, the result decoder, how a
 * compiled statement's positional values become ClickHouse parameters, and identifier quoting.
 */
import { describe, expect, it } from 'vitest';
import { clickhouseDialect } from '../../../src/query/dialect.js';
import { decodeRows } from '../../../src/store/clickhouse/decode.js';
import { bindParams } from '../../../src/store/clickhouse/event-store.js';
import { parseClickHouseUrl, redact } from '../../../src/store/clickhouse/http-executor.js';
import { openEventStoreAt } from '../../../src/store/factory.js';

describe('ClickHouse URLs', () => {
  it('reads host, port, credentials and database, with defaults', () => {
    expect(parseClickHouseUrl('clickhouse://ana:s%40cret@db.example:9000/events')).toEqual({
      url: 'http://db.example:9000',
      username: 'ana',
      password: 's@cret',
      database: 'events',
    });
    expect(parseClickHouseUrl('clickhouses://db.example')).toEqual({ url: 'https://db.example:8443', database: 'default' });
    expect(parseClickHouseUrl('clickhouse://127.0.0.1/')).toEqual({ url: 'http://127.0.0.1:8123', database: 'default' });
  });

  it('refuses what is not one, naming the form and hiding the password', () => {
    expect(() => parseClickHouseUrl('clickhouse://u:pw@host/bad-name')).toThrow(/letters, digits and _/);
    expect(() => parseClickHouseUrl('http://host')).toThrow(
      expect.objectContaining({ code: 'usage', hint: expect.stringMatching(/clickhouse:\/\//) }),
    );
    expect(redact('clickhouse://u:pw@host:8123/db')).toBe('clickhouse://u:***@host:8123/db');
  });

  it('openEventStoreAt refuses an unknown engine or a non-URL with a usage error', async () => {
    await expect(openEventStoreAt('postgres://x')).rejects.toMatchObject({ code: 'usage', message: expect.stringMatching(/postgres/) });
    await expect(openEventStoreAt('nothing')).rejects.toMatchObject({ code: 'usage', hint: expect.stringMatching(/chdb:DIR/) });
  });
});

describe('decoding JSONCompact results', () => {
  it('decodes by column type: 64-bit integers exactly, nullables, arrays, named tuples, booleans, times', () => {
    const rows = decodeRows({
      meta: [
        { name: 'a', type: 'Int64' },
        { name: 'b', type: 'Nullable(UInt64)' },
        { name: 'c', type: 'Float64' },
        { name: 'd', type: 'Array(Nullable(Float64))' },
        { name: 'e', type: 'Tuple(`flag.x` Nullable(String), n Nullable(Int64))' },
        { name: 'f', type: 'Bool' },
        { name: 'g', type: "DateTime64(6, 'UTC')" },
        { name: 'h', type: 'UInt8' },
      ],
      data: [['9007199254740993', null, 1.5, [1, null], { 'flag.x': 'on', n: '12' }, true, '2026-01-02 03:04:05.123456', 1]],
    });
    expect(rows).toEqual([
      [9007199254740993n, null, 1.5, [1, null], { 'flag.x': 'on', n: 12n }, true, new Date('2026-01-02T03:04:05.123Z'), 1],
    ]);
  });
});

describe('parameters and identifiers', () => {
  it('hands positional values over as text, a null as Nullable(String)', () => {
    const { text, values } = bindParams('SELECT CAST({p1:String} AS Int64), {p2:String}, {p3:String}, {p4:String}', [12n, null, true, 1.5]);
    expect(values).toEqual({ p1: '12', p2: null, p3: 'true', p4: '1.5' });
    expect(text).toBe('SELECT CAST({p1:String} AS Int64), {p2:Nullable(String)}, {p3:String}, {p4:String}');
  });

  it('quotes any identifier in backquotes, escaping backquote and backslash', () => {
    expect(clickhouseDialect.quoteIdent('service.name')).toBe('`service.name`');
    expect(clickhouseDialect.quoteIdent('a`b\\c')).toBe('`a\\`b\\\\c`');
    expect(clickhouseDialect.placeholder(3)).toBe('{p3:String}');
  });
});
