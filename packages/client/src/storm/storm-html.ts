import type { StormReport } from '@iot-custom-auth/protocol';

/**
 * `--report file.html`: one self-contained page (no external asset: inline CSS, inline JavaScript drawing
 * inline SVG) with the latency histogram and the connects/refusals/errors per second. The page draws from
 * the very report `--json` prints, embedded as JSON, so the two cannot disagree.
 */

/** The JSON of `report`, safe inside a `<script>` element (no `</script>`, no `<!--`). */
function embeddedJson(report: StormReport): string {
  return JSON.stringify(report)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page. Elements carry `data-*` attributes with their figures, for people's tools and for tests. */
export function renderHtmlReport(report: StormReport): string {
  const title = `Storm ${report.runId}: ${report.summary.connections} connections to ${report.target.endpoint}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
  h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
  table { border-collapse: collapse; } td, th { padding: 2px 10px; text-align: right; border-bottom: 1px solid #ddd; }
  td:first-child, th:first-child { text-align: left; }
  .ok { color: #1a7f37; } .not-ok { color: #cf222e; }
  svg text { font-size: 11px; fill: #444; }
  .series-connected { fill: #2da44e; } .series-refused { fill: #d4a72c; } .series-errors { fill: #cf222e; }
  .bar { fill: #0969da; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p id="result"></p>
<table id="connack"><thead><tr><th>CONNACK</th><th>count</th><th>expected</th></tr></thead><tbody></tbody></table>
<p id="latency"></p>
<h2>Latency histogram (connect start to CONNACK)</h2>
<svg id="latency-histogram" width="720" height="240" role="img" aria-label="latency histogram"></svg>
<h2>Connects, refusals and errors per second</h2>
<svg id="timeline" width="720" height="240" role="img" aria-label="connects and refusals over time"></svg>
<script type="application/json" id="storm-data">${embeddedJson(report)}</script>
<script>
(function () {
  'use strict';
  var report = JSON.parse(document.getElementById('storm-data').textContent);
  var summary = report.summary;
  var SVG = 'http://www.w3.org/2000/svg';
  function el(name, attributes, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (key) { node.setAttribute(key, String(attributes[key])); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function hex(code) { return '0x' + ('0' + code.toString(16).toUpperCase()).slice(-2); }

  var result = document.getElementById('result');
  result.className = report.ok ? 'ok' : 'not-ok';
  result.textContent = (report.ok ? 'As expected: ' : 'NOT as expected: ') + summary.expected + ' of ' +
    summary.connections + ' connections, ' + summary.connected + ' connected, ' + summary.refused +
    ' refused, ' + summary.errors + ' errors, ' + summary.notStarted + ' not started (' + report.stoppedBy + ')';

  var body = document.querySelector('#connack tbody');
  summary.connack.forEach(function (row) {
    var tr = document.createElement('tr');
    tr.setAttribute('data-reason-code', String(row.reasonCode));
    tr.setAttribute('data-count', String(row.count));
    [hex(row.reasonCode) + ' ' + row.reasonName, row.count, row.expected].forEach(function (value) {
      var td = document.createElement('td');
      td.textContent = String(value);
      tr.appendChild(td);
    });
    body.appendChild(tr);
  });
  var l = summary.latencyMs;
  document.getElementById('latency').textContent = l.count === 0 ? 'No CONNACK.' :
    'p50 ' + l.p50 + ' ms, p90 ' + l.p90 + ' ms, p99 ' + l.p99 + ' ms, max ' + l.max + ' ms over ' + l.count +
    ' CONNACKs; time to first refusal: ' +
    (summary.timeToFirstRefusalMs === null ? 'none' : summary.timeToFirstRefusalMs + ' ms');

  var width = 720, height = 240, left = 40, bottom = 30, top = 10;
  function drawHistogram() {
    var svg = document.getElementById('latency-histogram');
    var buckets = summary.histogram;
    var max = Math.max.apply(null, buckets.map(function (b) { return b.count; }).concat([1]));
    var slot = (width - left) / buckets.length;
    buckets.forEach(function (bucket, i) {
      var h = (bucket.count / max) * (height - bottom - top);
      var label = bucket.upperBoundMs === null ? '>' + buckets[i - 1].upperBoundMs : '\\u2264' + bucket.upperBoundMs;
      svg.appendChild(el('rect', {
        class: 'bar', x: left + i * slot + 2, y: height - bottom - h, width: slot - 4, height: h,
        'data-upper-ms': bucket.upperBoundMs === null ? 'inf' : bucket.upperBoundMs, 'data-count': bucket.count,
      }));
      svg.appendChild(el('text', { x: left + i * slot + slot / 2, y: height - bottom + 14, 'text-anchor': 'middle' }, label));
      if (bucket.count > 0) {
        svg.appendChild(el('text', { x: left + i * slot + slot / 2, y: height - bottom - h - 3, 'text-anchor': 'middle' }, String(bucket.count)));
      }
    });
    svg.appendChild(el('text', { x: 0, y: height - 4 }, 'ms'));
  }
  function drawTimeline() {
    var svg = document.getElementById('timeline');
    var points = summary.timeline;
    var names = ['connected', 'refused', 'errors'];
    var max = Math.max.apply(null, points.map(function (p) { return p.connected + p.refused + p.errors; }).concat([1]));
    var slot = (width - left) / Math.max(points.length, 1);
    names.forEach(function (name, s) {
      var total = points.reduce(function (sum, p) { return sum + p[name]; }, 0);
      var group = el('g', { class: 'series series-' + name, 'data-series': name, 'data-total': total });
      points.forEach(function (p, i) {
        var below = names.slice(0, s).reduce(function (sum, other) { return sum + p[other]; }, 0);
        var scale = (height - bottom - top) / max;
        group.appendChild(el('rect', {
          x: left + i * slot + 1, y: height - bottom - (below + p[name]) * scale, width: Math.max(slot - 2, 1),
          height: p[name] * scale, 'data-second': p.second, 'data-count': p[name],
        }));
      });
      svg.appendChild(group);
      svg.appendChild(el('text', { class: 'legend', x: left + s * 140, y: height - 4, 'data-series': name }, name + ': ' + total));
    });
  }
  drawHistogram();
  drawTimeline();
  document.body.setAttribute('data-rendered', 'true');
})();
</script>
</body>
</html>
`;
}
