'use strict'

// bench/get-hit.svg: the get-hit medians per strategy (customer and superadmin), horizontal bars on a
// logarithmic axis (the figures span three orders of magnitude). Hand-written SVG, no dependency.

const COLORS = { customer: '#3b7dd8', superadmin: '#e08a2c' }
const LABEL_W = 250
const PLOT_W = 470
const VALUE_W = 90
const BAR_H = 13
const GROUP_GAP = 12
const TOP = 68
const AXIS_H = 34

const TITLE = 'Session cache get (hit): median per call, log scale (lower is faster)'

const escapeXml = (text) => String(text).replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`)

function durationLabel(ns) {
  if (ns >= 1e6) return `${+(ns / 1e6).toPrecision(3)} ms`
  if (ns >= 1e3) return `${+(ns / 1e3).toPrecision(3)} µs`
  return `${Math.round(ns)} ns`
}

/**
 * `rows`: `[{ label, customerNs, superadminNs, highlight }]`; `subtitle`: one line under the title.
 * Returns the SVG document as a string.
 */
function getHitChart(rows, subtitle) {
  const values = rows.flatMap((r) => [r.customerNs, r.superadminNs]).filter((v) => v > 0)
  const lo = 10 ** Math.floor(Math.log10(Math.min(...values)))
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values)))
  const x = (ns) => LABEL_W + (PLOT_W * Math.log10(ns / lo)) / Math.log10(hi / lo)
  const groupH = 2 * BAR_H + GROUP_GAP
  const plotH = rows.length * groupH
  const width = LABEL_W + PLOT_W + VALUE_W
  const height = TOP + plotH + AXIS_H

  const parts = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      'font-family="Helvetica, Arial, sans-serif" font-size="12">',
  )
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`)
  parts.push(`<text x="12" y="20" font-size="15" font-weight="bold">${escapeXml(TITLE)}</text>`)
  parts.push(`<text x="12" y="38" fill="#555">${escapeXml(subtitle)}</text>`)
  let legendX = LABEL_W
  for (const [name, color] of Object.entries(COLORS)) {
    parts.push(`<rect x="${legendX}" y="44" width="10" height="10" fill="${color}"/>`)
    parts.push(`<text x="${legendX + 14}" y="53">${name}</text>`)
    legendX += 100
  }
  for (let decade = lo; decade <= hi; decade *= 10) {
    const gx = x(decade).toFixed(1)
    parts.push(`<line x1="${gx}" y1="${TOP - 4}" x2="${gx}" y2="${TOP + plotH}" stroke="#ddd"/>`)
    parts.push(`<text x="${gx}" y="${TOP + plotH + 16}" text-anchor="middle" fill="#555">${durationLabel(decade)}</text>`)
  }
  rows.forEach((row, i) => {
    const y = TOP + i * groupH
    const weight = row.highlight ? ' font-weight="bold"' : ''
    parts.push(`<text x="${LABEL_W - 8}" y="${y + BAR_H + 4}" text-anchor="end"${weight}>${escapeXml(row.label)}</text>`)
    ;[
      ['customer', row.customerNs],
      ['superadmin', row.superadminNs],
    ].forEach(([kind, ns], k) => {
      if (!(ns > 0)) return
      const by = y + k * BAR_H
      const w = Math.max(1, x(ns) - LABEL_W).toFixed(1)
      const tooltip = escapeXml(`${row.label}, ${kind}: ${durationLabel(ns)}`)
      parts.push(`<rect x="${LABEL_W}" y="${by}" width="${w}" height="${BAR_H - 2}" fill="${COLORS[kind]}"><title>${tooltip}</title></rect>`)
      const tx = (LABEL_W + Number(w) + 4).toFixed(1)
      parts.push(`<text x="${tx}" y="${by + BAR_H - 3}" font-size="11"${weight}>${durationLabel(ns)}</text>`)
    })
  })
  parts.push(`<line x1="${LABEL_W}" y1="${TOP - 4}" x2="${LABEL_W}" y2="${TOP + plotH}" stroke="#333"/>`)
  parts.push(`<text x="${width - 8}" y="${height - 4}" text-anchor="end" font-size="10" fill="#888">time per get, log axis</text>`)
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

module.exports = { getHitChart }
