// NGauge's dashboard: renders the overview NGauge pushes over server-sent events (/api/v1/events)
// every scrape interval; charts are uPlot, fed from the same events. No framework, no CDN.
'use strict';
(function () {
  const $ = (sel) => document.querySelector(sel);
  const HISTORY = 300; // points kept per chart (5 minutes at 1 s)
  const fmt = {
    dur(s) {
      if (s === null || s === undefined) return '–';
      if (s < 0) return 'expired';
      const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
      return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${Math.floor(s % 60)}s` : `${Math.floor(s)}s`;
    },
    num(v, digits = 1) { return v === null || v === undefined ? '–' : v.toFixed(digits); },
    pct(v) { return v === null || v === undefined ? '–' : `${(v * 100).toFixed(1)} %`; },
    ms(s) { return s === null || s === undefined ? '–' : `${(s * 1000).toFixed(s < 0.01 ? 2 : 0)} ms`; },
    bytes(b) { return b === null || b === undefined ? '–' : `${(b / 1048576).toFixed(0)} MiB`; },
  };
  const text = (tag, value, cls) => { const el = document.createElement(tag); el.textContent = value; if (cls) el.className = cls; return el; };

  function renderAlerts(alerts) {
    const box = $('#alerts');
    box.replaceChildren(...alerts.map((a) => {
      const el = text('div', `${a.state === 'firing' ? 'FIRING' : 'pending'} · ${a.alert} · ${a.labels.service || ''}/${a.labels.instance || ''} · ${a.summary}`, `alert ${a.state}`);
      el.dataset.alert = a.alert;
      el.dataset.instance = a.labels.instance || '';
      el.dataset.state = a.state;
      return el;
    }));
  }

  function renderCards(o) {
    const up = o.targets.filter((t) => t.up).length;
    const cards = [['services up', `${up} / ${o.targets.length}`]];
    if (o.consensus) cards.push(['consensus height', String(o.consensus.height)], ['leader', o.consensus.leader || '–']);
    if (o.supply !== null) cards.push(['Caesar supply', o.supply.toLocaleString('en')]);
    if (o.catalog) cards.push(['Catalog runs/s', o.catalog.runsPerSecond.toFixed(1)], ['Catalog fuel/s', Math.round(o.catalog.fuelPerSecond).toLocaleString('en')], ['Catalog runs in flight', String(o.catalog.inFlight)]);
    $('#ecosystem').replaceChildren(...cards.map(([k, v]) => { const c = text('div', '', 'card'); c.append(text('div', k, 'muted'), text('div', v, 'v')); return c; }));
    $('#summary').textContent = `${o.targets.length} targets · ${new Date(o.at).toLocaleTimeString()}`;
  }

  function renderTable(o) {
    const rows = o.targets.map((t) => {
      const tr = document.createElement('tr');
      const state = !t.up ? 'down' : t.serving === false ? 'not-serving' : 'up';
      tr.dataset.service = t.service;
      tr.dataset.instance = t.instance;
      tr.dataset.state = state;
      tr.append(
        text('td', t.service), text('td', t.instance), text('td', state === 'up' ? 'up' : state === 'down' ? 'down' : 'not serving', 'health'),
        text('td', fmt.dur(t.uptimeSeconds), 'num'), text('td', fmt.dur(t.certificateExpiresInSeconds), 'num'),
        text('td', fmt.num(t.requestRate), 'num'), text('td', fmt.pct(t.errorRatio), 'num'), text('td', fmt.ms(t.p99Seconds), 'num'), text('td', fmt.bytes(t.rssBytes), 'num'),
      );
      return tr;
    });
    $('#targets tbody').replaceChildren(...rows);
  }

  // Charts: one series per instance; series appear as instances do.
  function makeChart(el, title) {
    const state = { el, names: [], data: [[]], plot: null, title };
    return state;
  }
  function width(el) { return Math.max(200, el.clientWidth || 320); }
  function build(chart) {
    if (chart.plot) chart.plot.destroy();
    const palette = ['#3498db', '#2ecc71', '#e67e22', '#9b59b6', '#e74c3c', '#1abc9c', '#f1c40f', '#95a5a6'];
    chart.plot = new uPlot({
      width: width(chart.el), height: 180, legend: { show: true, live: false },
      axes: [
        // Whole-second clock labels, spaced so they never crowd (samples come several times a second).
        { stroke: '#8a949e', grid: { stroke: '#2a333d' }, space: 90, values: (u, ticks) => ticks.map((t) => new Date(t * 1000).toLocaleTimeString()) },
        { stroke: '#8a949e', grid: { stroke: '#2a333d' } },
      ],
      series: [{}, ...chart.names.map((n, i) => ({ label: n, stroke: palette[i % palette.length], width: 1.5, spanGaps: true }))],
    }, chart.data, chart.el);
  }
  function push(chart, at, values) {
    let rebuild = !chart.plot;
    for (const name of Object.keys(values)) {
      if (!chart.names.includes(name)) { chart.names.push(name); chart.data.push(chart.data[0].map(() => null)); rebuild = true; }
    }
    chart.data[0].push(at / 1000);
    chart.names.forEach((n, i) => chart.data[i + 1].push(values[n] === undefined ? null : values[n]));
    if (chart.data[0].length > HISTORY) chart.data.forEach((col) => col.shift());
    if (rebuild) build(chart);
    else chart.plot.setData(chart.data);
  }
  const charts = { rate: makeChart($('#chart-rate')), p99: makeChart($('#chart-p99')) };
  // A new width rebuilds the charts (the legend must reflow too, which setSize does not do).
  let lastWidth = document.body.clientWidth;
  new ResizeObserver(() => {
    if (document.body.clientWidth === lastWidth) return;
    lastWidth = document.body.clientWidth;
    for (const c of Object.values(charts)) if (c.plot) build(c);
  }).observe(document.body);

  function render(o) {
    renderAlerts(o.alerts);
    renderCards(o);
    renderTable(o);
    const rate = {}, p99 = {};
    for (const t of o.targets) {
      const n = `${t.instance}`;
      if (t.requestRate !== null) rate[n] = t.requestRate;
      if (t.p99Seconds !== null) p99[n] = t.p99Seconds * 1000;
    }
    push(charts.rate, o.at, rate);
    push(charts.p99, o.at, p99);
    document.body.dataset.updated = String(o.at);
  }

  function connect() {
    const es = new EventSource('/api/v1/events');
    es.addEventListener('overview', (e) => { $('#link').className = 'link up'; render(JSON.parse(e.data)); });
    es.onerror = () => { $('#link').className = 'link down'; };
  }
  fetch('/api/v1/overview').then((r) => r.json()).then(render).catch(() => undefined).finally(connect);
})();
