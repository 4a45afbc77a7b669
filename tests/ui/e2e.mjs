// rtml ui in Debian's chromium (headless, through playwright-core: no
// browser download). Started by run_e2e.py with one argument, the JSON of
// what the database holds (URLs, run ids, totals, expected frame names...).
// Each check prints a line; screenshots go to expect.artifacts.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const expect = JSON.parse(process.argv[2]);
const require = createRequire(path.join(process.env.RTML_UI_DIR, 'package.json'));
const { chromium } = require('playwright-core');

let passed = 0;
let failed = 0;
function ok(cond, what, detail = '') {
  if (cond) { passed++; console.log(`ok   ${what}`); }
  else { failed++; console.log(`FAIL ${what}${detail ? ': ' + detail : ''}`); }
  return cond;
}
const shot = (page, name, opts = {}) => page.screenshot({ path: path.join(expect.artifacts, name + '.png'), ...opts });

// Pixels of a chart's canvas close to its series colour: data was drawn,
// not just the axes and grid (which are grey).
async function seriesPixels(page, selector) {
  return page.$eval(selector, (box) => {
    const hex = box.dataset.color;
    const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    let n = 0;
    for (const c of box.querySelectorAll('canvas')) {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] > 200 && Math.abs(d[i] - want[0]) + Math.abs(d[i + 1] - want[1]) + Math.abs(d[i + 2] - want[2]) < 60) n++;
      }
    }
    return n;
  });
}

const userData = fs.mkdtempSync(path.join(os.tmpdir(), 'rtml-ui-chromium-'));
const context = await chromium.launchPersistentContext(userData, {
  executablePath: expect.chromium,
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = context.pages()[0] || await context.newPage();
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(e.message));
page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
page.setDefaultTimeout(20000);
const timings = {};

try {
  // --- The runs list: a thousand runs, one page of them. -------------------
  let t = Date.now();
  await page.goto(expect.url);
  await page.waitForSelector('#runs-table tbody tr');
  timings.runs_page_ms = Date.now() - t;
  const total = Number(await page.getAttribute('#run-total', 'data-total'));
  ok(total === expect.total, `runs list: total ${total} runs`, `expected ${expect.total}`);
  const rows = await page.$$eval('#runs-table tbody tr', (trs) => trs.length);
  ok(rows === 50, `runs list: one page of 50 rows (${timings.runs_page_ms} ms to load with ${total} runs)`, `got ${rows}`);
  await shot(page, 'runs');
  // Again, warm: what a user sees on every visit after the first.
  t = Date.now();
  await page.reload();
  await page.waitForSelector('#runs-table tbody tr');
  timings.runs_page_reload_ms = Date.now() - t;
  timings.runs_api_ms = Number((await page.textContent('#run-total + .muted')).match(/(\d+) ms/)[1]);

  t = Date.now();
  await page.click('#next-page');
  await page.waitForFunction(() => document.querySelector('#page-of')?.textContent.startsWith('page 2'));
  timings.next_page_ms = Date.now() - t;
  const firstIds = await page.$$eval('#runs-table tbody tr', (trs) => trs.map((tr) => Number(tr.dataset.id)));
  ok(firstIds.length === 50 && firstIds.every((id, i) => i === 0 || id < firstIds[i - 1]), 'runs list: page 2, newest first');

  // Filter by model.
  await page.goto(expect.url);
  await page.waitForSelector('#runs-table tbody tr');
  t = Date.now();
  await page.fill('#f-model', 'digits');
  await page.press('#f-model', 'Enter');
  await page.waitForFunction((n) => Number(document.querySelector('#run-total')?.dataset.total) === n, expect.digits_total);
  timings.filter_ms = Date.now() - t;
  const models = await page.$$eval('#runs-table tbody a.model', (as) => as.map((a) => a.textContent));
  ok(models.length > 0 && models.every((m) => m.toLowerCase().includes('digits')),
    `filter by model: ${expect.digits_total} runs, every row a digits model`, models.join(','));
  await shot(page, 'runs-filtered');

  // Sort by median (server side), ascending.
  await page.click('#runs-table th[data-key=median] button');
  await page.waitForFunction(() => location.hash.includes('sort=median'));
  await page.waitForSelector('#runs-table th[data-key=median][aria-sort=ascending]');
  const medians = await page.$$eval('#runs-table tbody tr td:nth-child(7)', (tds) => tds.map((td) => td.textContent));
  const toUs = (s) => { const m = /([\d.]+) (µs|ms|s)/.exec(s); return m ? Number(m[1]) * { 'µs': 1, ms: 1e3, s: 1e6 }[m[2]] : NaN; };
  const mv = medians.map(toUs).filter((v) => !Number.isNaN(v));
  ok(mv.length > 1 && mv.every((v, i) => i === 0 || v >= mv[i - 1]), 'runs list: sorted by median, ascending', medians.join(' '));

  // --- One run: charts, op table, flame graph. -------------------------------
  t = Date.now();
  await page.goto(`${expect.url}#/run/${expect.gru_id}`);
  await page.waitForSelector('#chart-histogram canvas');
  await page.waitForSelector('#ops-table tbody tr');
  await page.waitForSelector('#flame g.frame');
  timings.run_page_ms = Date.now() - t;
  const histPoints = Number(await page.getAttribute('#chart-histogram', 'data-points'));
  ok(histPoints === expect.histogram_bins + 1, `histogram: ${histPoints} points drawn`, `expected ${expect.histogram_bins + 1}`);
  const histPixels = await seriesPixels(page, '#chart-histogram');
  ok(histPixels > 200, `histogram: ${histPixels} pixels in the series colour`);
  const latPoints = Number(await page.getAttribute('#chart-latency', 'data-points'));
  ok(latPoints === expect.samples && latPoints > 0, `latency over time: ${latPoints} runs drawn`, `expected ${expect.samples}`);
  const latPixels = await seriesPixels(page, '#chart-latency');
  ok(latPixels > 200, `latency over time: ${latPixels} pixels in the series colour`);
  if (expect.has_timeline) {
    const memPoints = Number(await page.getAttribute('#chart-memory', 'data-points'));
    ok(memPoints > 0, `memory timeline: ${memPoints} samples drawn`);
    const memPixels = await seriesPixels(page, '#chart-memory');
    ok(memPixels > 100, `memory timeline: ${memPixels} pixels in the series colour`);
  } else {
    const text = await page.textContent('#chart-memory');
    ok(text.includes('No memory timeline'), 'memory timeline: absent, and the page says so', text);
  }

  // The op table sorts by any column.
  await page.click('#ops-table th[data-key=mean_us] button');
  await page.waitForSelector('#ops-table th[data-key=mean_us][aria-sort=descending]');
  const nodes = await page.$$eval('#ops-table tbody tr td[data-key=node]', (tds) => tds.map((td) => td.textContent));
  ok(JSON.stringify(nodes) === JSON.stringify(expect.ops_by_mean), 'op table: sorted by mean time, slowest first',
    `${nodes.join(', ')} vs ${expect.ops_by_mean.join(', ')}`);
  await page.click('#ops-table th[data-key=mean_us] button');
  await page.waitForSelector('#ops-table th[data-key=mean_us][aria-sort=ascending]');
  const nodesUp = await page.$$eval('#ops-table tbody tr td[data-key=node]', (tds) => tds.map((td) => td.textContent));
  ok(JSON.stringify(nodesUp) === JSON.stringify([...expect.ops_by_mean].reverse()), 'op table: second click, fastest first');
  await page.click('#ops-table th[data-key=op_type] button');
  const types = await page.$$eval('#ops-table tbody tr td[data-key=op_type]', (tds) => tds.map((td) => td.textContent));
  ok(types.every((v, i) => i === 0 || types[i - 1].localeCompare(v) <= 0), 'op table: sorted by op type, A to Z', types.join(','));

  // The flame graph: frames named as in perf's stacks; hover; click to zoom.
  const names = await page.$$eval('#flame g.frame', (gs) => gs.map((g) => g.dataset.name));
  for (const leaf of expect.top_leaves) ok(names.includes(leaf), `flame graph: has frame ${leaf}`);
  ok(Number(await page.getAttribute('#flame', 'data-frames')) > 3, `flame graph: ${names.length} frames`);
  const leaf = expect.top_leaves[0];
  // The widest frame of that name: perf's stacks can put the same function in a frame too narrow
  // to hover (a neighbour then takes the pointer).
  const sameName = `#flame g.frame[data-name="${leaf.replace(/"/g, '\\"')}"]`;
  const widths = await page.$$eval(sameName, (gs) => gs.map((g) => g.getBoundingClientRect().width));
  const frame = page.locator(sameName).nth(widths.indexOf(Math.max(...widths)));
  await frame.hover();
  await page.waitForSelector('#tooltip:not([hidden])');
  const tip = await page.textContent('#tooltip');
  ok(tip.includes(leaf) && /samples/.test(tip), 'flame graph: hovering shows the frame and its samples', tip);
  const scrollTo = (selector) => page.locator(selector).first().evaluate((e) => { e.scrollIntoView({ block: 'start' }); window.scrollBy(0, -8); });
  await page.mouse.move(0, 0);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'run');
  await scrollTo('#view h2:has-text("Profile") + p');
  await frame.hover();
  await shot(page, 'run-profile');
  await shot(page, 'run-full', { fullPage: true });
  await frame.click();
  await page.waitForFunction((n) => document.querySelector('#flame')?.dataset.focus === n, leaf);
  ok(true, `flame graph: click zooms into ${leaf}`);
  await shot(page, 'run-flame-zoomed');
  await page.click('#flame .flame-bar button');
  await page.waitForFunction(() => document.querySelector('#flame')?.dataset.focus === 'all');
  ok(true, 'flame graph: Reset zoom');

  // A run without a profile says so.
  await page.goto(`${expect.url}#/run/${expect.unprofiled_id}`);
  await page.waitForSelector('.empty');
  const emptyText = await page.textContent('#view');
  ok(emptyText.includes('No profile for this run') && emptyText.includes('rtml profile'), 'run without a profile: says how to get one');

  // A compiled model on an emulated Cortex-M7: instructions per step, shares of instructions, no times.
  if (expect.emulated_id !== null) {
    await page.goto(`${expect.url}#/run/${expect.emulated_id}`);
    await page.waitForSelector('#ops-table');
    const text = await page.textContent('#view');
    ok(text.includes('instructions / inference') && text.includes('no timing model'), 'emulated run: instructions, and why there are no times');
    const headers = await page.$$eval('#ops-table th', (ths) => ths.map((t) => t.textContent.trim()));
    ok(headers.some((h) => h.startsWith('% instr.')) && !headers.some((h) => h.startsWith('% time')), 'emulated profile: shares of instructions', headers.join(','));
    const cells = await page.$$eval('#ops-table tbody tr:first-child td', (tds) => tds.map((t) => t.textContent.trim()));
    const shown = cells.map((c) => c.replace(/[ ,]/g, ''));
    ok(shown.includes(String(expect.emulated_instructions)),
      'emulated profile: the step row shows its instruction count', cells.join(' | '));
  }

  // --- Compare: tick two runs in the list, press Compare. --------------------
  await page.goto(`${expect.url}#/?model=gru_stream_h64`);
  await page.waitForSelector('#runs-table tbody tr');
  await page.check(`#runs-table tr[data-id="${expect.gru_id}"] input.pick`);
  await page.check(`#runs-table tr[data-id="${expect.gru2_id}"] input.pick`);
  ok(await page.isEnabled('#compare-btn'), 'compare: the button is enabled with two runs ticked');
  t = Date.now();
  await page.click('#compare-btn');
  await page.waitForSelector('#delta-table tbody tr');
  await page.waitForSelector('#diff-flame g.frame');
  timings.compare_page_ms = Date.now() - t;
  const medianRow = await page.$$eval('#delta-table tr[data-metric=median] td', (tds) => tds.map((td) => td.textContent));
  ok(medianRow.length === 5 && !medianRow.slice(1).includes('n/a'), 'compare: delta table has both medians and the change', medianRow.join(' | '));
  const verdict = await page.textContent('#verdict');
  ok(/median: (faster|slower|same)/.test(verdict), 'compare: the noise-aware verdict', verdict);
  const opRows = await page.$$eval('#ops-delta-table tbody tr', (trs) => trs.map((tr) => ({
    node: tr.querySelector('td[data-key=node]').textContent, change: tr.querySelector('td[data-key=pct]').textContent })));
  ok(JSON.stringify(opRows.map((r) => r.node).sort()) === JSON.stringify(expect.gru_nodes) && opRows.every((r) => /^[+-]?\d/.test(r.change)),
    `compare: every operator matched by node, with its change (${opRows.map((r) => r.node + ' ' + r.change).join(', ')})`);
  const deltas = await page.$$eval('#diff-flame g.frame', (gs) => gs.map((g) => Number(g.dataset.delta)));
  ok(deltas.some((d) => d > 0) && deltas.some((d) => d < 0), `differential flame graph: ${deltas.length} frames, some grew, some shrank`);
  const fills = await page.$$eval('#diff-flame g.frame rect', (rs) => rs.map((r) => r.getAttribute('fill')));
  ok(fills.some((f) => f.startsWith('hsl(0,')) && fills.some((f) => f.startsWith('hsl(214,')), 'differential flame graph: red and blue frames');
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'compare');
  await scrollTo('#view h2:has-text("Operators")');
  await shot(page, 'compare-ops-flame');
  await shot(page, 'compare-full', { fullPage: true });

  // Two backends (or two models): paired all the same, said so; operators do not match by node.
  await page.goto(`${expect.url}#/compare?a=${expect.gru_id}&b=${expect.gru_torch_id}`);
  await page.waitForSelector('#delta-table tbody tr');
  await page.waitForSelector('#ops-delta-table');
  ok((await page.textContent('#verdict')).includes('compared as two measurements of the same thing'), 'compare across backends (or models): the verdict says what was paired');
  ok(await page.isVisible('#ops-no-match'), 'compare across backends (or models): says no operator matches by node');

  // --- Errors. ---------------------------------------------------------------
  await page.goto(`${expect.url}#/run/999999`);
  await page.waitForSelector('.error-box');
  const err = await page.textContent('.error-box');
  ok(err.includes('999999') && err.includes('not in this database'), 'unknown run: a clear error', err);
  await shot(page, 'unknown-run');
  await page.route('**/api/runs?*', (route) => route.fulfill({ status: 500, contentType: 'application/json', body: '{"error": "disk on fire"}' }));
  await page.goto(`${expect.url}#/?model=x`);
  await page.waitForSelector('.error-box');
  ok((await page.textContent('.error-box')).includes('disk on fire'), 'API failure: the server’s message is shown');
  await page.unroute('**/api/runs?*');

  // --- An empty database. ---------------------------------------------------
  await page.goto(expect.empty_url);
  await page.waitForSelector('.empty');
  ok((await page.textContent('.empty')).includes('No runs in this database yet'), 'empty database: says so and how to add runs');
  await shot(page, 'empty');

  const unexpected = pageErrors.filter((e) => !/500|disk on fire|404/.test(e));
  ok(unexpected.length === 0, 'no JavaScript errors', unexpected.join('\n'));
} catch (e) {
  failed++;
  console.log(`FAIL ${e.stack || e}`);
  await shot(page, 'failure', { fullPage: true }).catch(() => {});
} finally {
  await context.close();
  fs.rmSync(userData, { recursive: true, force: true });
}
console.log('timings: ' + JSON.stringify(timings));
fs.writeFileSync(path.join(expect.artifacts, 'timings.json'), JSON.stringify(timings, null, 2) + '\n');
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
