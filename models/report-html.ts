/**
 * The validation report as one standalone HTML page: the report's Markdown (models/report.ts, the
 * subset it writes: headings, paragraphs with `code`, pipe tables, figure image lines) turned into
 * HTML, each figure inlined as its SVG, the style inline. No script, no external address: it opens
 * offline, from a mail attachment or a file share, and prints.
 */

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Inline text: HTML-escaped, `code` spans kept. */
function inline(s: string): string {
  return s
    .split('`')
    .map((part, k) => (k % 2 ? `<code>${esc(part)}</code>` : esc(part)))
    .join('');
}

/** The cells of a pipe-table line (`\|` is a pipe inside a cell). */
function cells(line: string): string[] {
  const inner = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  return inner.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
}

function tableHtml(lines: readonly string[]): string {
  const [head, , ...body] = lines;
  const numeric = (c: string) => /^[-−+]?[\d.,]+(e[-+]?\d+)?%?$|^—$/.test(c);
  const row = (l: string, tag: 'th' | 'td') => `<tr>${cells(l).map((c) => `<${tag}${tag === 'td' && numeric(c) ? ' class="n"' : ''}>${inline(c)}</${tag}>`).join('')}</tr>`;
  return `<table>\n<thead>${row(head!, 'th')}</thead>\n<tbody>\n${body.map((l) => row(l, 'td')).join('\n')}\n</tbody>\n</table>`;
}

/**
 * An SVG document for inlining: without the XML prolog, its ids and class names (ECharts' `zr0-…`,
 * the same in every figure) made unique to the figure, sized by CSS.
 */
function inlineSvg(svg: string, k: number): string {
  return svg.replace(/^<\?xml[^>]*>\s*/, '').replace(/\bzr\d+-/g, `f${k}-`);
}

const STYLE = `
body { font-family: "Noto Sans SC", "PingFang SC", "Microsoft YaHei", system-ui, sans-serif; color: #222; max-width: 1100px; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.7rem; border-bottom: 2px solid #2f6fb3; padding-bottom: .3rem; }
h2 { font-size: 1.3rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin-top: 1.6rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .85rem; display: block; overflow-x: auto; }
th, td { border: 1px solid #d6d9de; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f1f4f8; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #fafbfc; }
code { background: #f1f4f8; padding: 0 .25rem; border-radius: 3px; }
figure { margin: 1rem 0 1.6rem; }
figure svg { max-width: 100%; height: auto; display: block; }
@media print { figure, table { break-inside: avoid; } }
`;

/**
 * The HTML page of a report's Markdown. `svgs` maps each figure's image path in the Markdown
 * (`figures/roc.svg`) to the SVG document; an image line whose path is not in it is refused, so a
 * page never points at a file.
 */
export function reportHtml(markdown: string, svgs: ReadonlyMap<string, string>, title = 'Scorecard validation report'): string {
  const lines = markdown.split('\n');
  const out: string[] = [];
  let figures = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const h = /^(#{1,3}) (.*)$/.exec(l);
    const img = /^!\[([^\]]*)\]\(([^)]+)\)$/.exec(l.trim());
    if (h) out.push(`<h${h[1]!.length}>${inline(h[2]!)}</h${h[1]!.length}>`);
    else if (img) {
      const svg = svgs.get(img[2]!);
      if (svg === undefined) throw new Error(`the report's figure ${img[2]} was not rendered`);
      out.push(`<figure aria-label="${esc(img[1]!)}">\n${inlineSvg(svg, figures++)}\n</figure>`);
    } else if (l.startsWith('|')) {
      const block: string[] = [];
      while (i < lines.length && lines[i]!.startsWith('|')) block.push(lines[i++]!);
      i--;
      out.push(tableHtml(block));
    } else if (l.trim()) out.push(`<p>${inline(l)}</p>`);
  }
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    ...out,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
