/**
 * A strict reader of the XML subset JUnit reports use, to check that the gate's
 * report is well-formed (no XML parser is installed; fast-xml-parser's
 * `XMLValidator` would do this as a dev dependency): one declaration, one root,
 * properly nested elements, quoted attributes without a raw `<` or a bare `&`,
 * unique attribute names, text without a raw `<` or a bare `&`, only the five
 * predefined entities and character references, and only characters XML 1.0
 * allows. Throws on anything else; returns the element tree with attribute and
 * text values unescaped.
 */

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9._:-]*/;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const ALLOWED = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;

function decode(raw: string, where: string): string {
  return raw.replace(/&([^;]*);|&/g, (match, ref: string | undefined) => {
    if (ref === undefined) throw new Error(`bare & in ${where}`);
    if (ref in ENTITIES) return ENTITIES[ref] as string;
    const code = /^#x([0-9a-fA-F]+)$/.exec(ref)?.[1];
    const dec = /^#([0-9]+)$/.exec(ref)?.[1];
    const point = code !== undefined ? Number.parseInt(code, 16) : dec !== undefined ? Number(dec) : Number.NaN;
    if (!Number.isFinite(point)) throw new Error(`unknown entity ${match} in ${where}`);
    const char = String.fromCodePoint(point);
    if (!ALLOWED.test(char)) throw new Error(`character reference ${match} to a character XML forbids in ${where}`);
    return char;
  });
}

export function parseXml(xml: string): XmlElement {
  if (!ALLOWED.test(xml)) throw new Error('a character XML 1.0 forbids');
  let i = 0;
  const decl = /^<\?xml version="1\.0" encoding="UTF-8"\?>\n?/.exec(xml);
  if (decl === null) throw new Error('missing XML declaration');
  i = decl[0].length;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  while (i < xml.length) {
    if (xml.startsWith('</', i)) {
      const end = xml.indexOf('>', i);
      const name = xml.slice(i + 2, end).trim();
      const open = stack.pop();
      if (open === undefined || open.name !== name) throw new Error(`</${name}> closes <${open?.name ?? 'nothing'}>`);
      i = end + 1;
      if (stack.length === 0) root = open;
      continue;
    }
    if (xml[i] === '<') {
      if (root !== undefined) throw new Error('content after the root element');
      i++;
      const name = NAME.exec(xml.slice(i))?.[0];
      if (name === undefined) throw new Error(`bad element name at ${i}`);
      i += name.length;
      const element: XmlElement = { name, attributes: {}, children: [], text: '' };
      for (;;) {
        const ws = /^\s*/.exec(xml.slice(i))?.[0] ?? '';
        i += ws.length;
        if (xml.startsWith('/>', i) || xml[i] === '>') break;
        if (ws === '') throw new Error(`no space before an attribute of <${name}>`);
        const attr = /^([A-Za-z_][A-Za-z0-9._:-]*)="([^"<]*)"/.exec(xml.slice(i));
        if (attr === null) throw new Error(`bad attribute in <${name}> at ${xml.slice(i, i + 30)}`);
        const key = attr[1] as string;
        if (key in element.attributes) throw new Error(`duplicate attribute ${key} in <${name}>`);
        element.attributes[key] = decode(attr[2] as string, `attribute ${key} of <${name}>`);
        i += attr[0].length;
      }
      stack.at(-1)?.children.push(element);
      if (xml.startsWith('/>', i)) {
        i += 2;
        if (stack.length === 0) root = element;
      } else {
        i += 1;
        stack.push(element);
      }
      continue;
    }
    const next = xml.indexOf('<', i);
    const raw = xml.slice(i, next < 0 ? xml.length : next);
    if (raw.includes('>') && raw.includes(']]>')) throw new Error(']]> in text');
    const top = stack.at(-1);
    if (top === undefined) {
      if (raw.trim() !== '') throw new Error('text outside the root element');
    } else top.text += decode(raw, `text of <${top.name}>`);
    i = next < 0 ? xml.length : next;
  }
  if (stack.length > 0) throw new Error(`<${stack.at(-1)?.name}> is not closed`);
  if (root === undefined) throw new Error('no root element');
  return root;
}
