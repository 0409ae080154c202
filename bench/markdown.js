'use strict'

// Markdown tables and the number formats the report uses.

const en = (digits) => new Intl.NumberFormat('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const int = en(0)
const one = en(1)
const two = en(2)

const isNum = (x) => typeof x === 'number' && Number.isFinite(x)

const fmt = {
  /** Nanoseconds: whole numbers with thousands separators. */
  ns: (x) => (isNum(x) ? int.format(x) : '—'),
  /** Milliseconds: three significant decimals below 10 ms. */
  ms: (x) => (isNum(x) ? (x < 10 ? x.toFixed(3) : one.format(x)) : '—'),
  /** A ratio to this project's figure, e.g. `0.62×`, `312×`. */
  ratio: (x) => (isNum(x) ? `${x < 10 ? two.format(x) : int.format(x)}×` : '—'),
  count: (x) => (isNum(x) ? int.format(x) : '—'),
  bytes: (x) => (isNum(x) ? int.format(x) : '—'),
  mib: (x) => (isNum(x) ? one.format(x / 2 ** 20) : '—'),
  perSecond: (x) => (isNum(x) ? `${two.format(x / 1e6)} M` : '—'),
}

/** A markdown table; `align` holds 'l' or 'r' per column (default: first left, others right). */
function table(headers, rows, align = headers.map((_, i) => (i === 0 ? 'l' : 'r'))) {
  const line = (cells) => `| ${cells.join(' | ')} |`
  return [line(headers), line(align.map((a) => (a === 'r' ? '---:' : ':---'))), ...rows.map(line)].join('\n')
}

module.exports = { fmt, table }
