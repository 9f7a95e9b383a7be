/**
 * The live dashboard and its login form: plain HTML, CSS and a few lines of script, no build step.
 * The page polls `dashboard.json` (beside it, same cookie) every second and redraws in place.
 */

const STYLE = `body{font:14px system-ui,sans-serif;margin:1.5rem;color:#1b1f24;background:#f6f8fa}
h1{font-size:1.2rem}h2{font-size:1rem;margin:1.5rem 0 .5rem}table{border-collapse:collapse;background:#fff;width:100%}
td,th{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left}th{background:#eef1f4}
.ok{background:#dafbe1}.bad{background:#ffebe9}.warn{background:#fff8c5}small{color:#57606a}`

/** Text for HTML, in an element or a quoted attribute. */
const html = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/** A JavaScript string literal that cannot end the script element it stands in (`<` escaped). */
const scriptString = (text: string) => JSON.stringify(text).replace(/</g, '\\u003c')

/**
 * The dashboard page; `base` is the admin prefix (`/_proxy`), `nonce` the answer's CSP nonce, which
 * the page's own style and script carry: nothing else runs.
 */
export function dashboardPage(base: string, nonce: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>edge-proxy</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style nonce="${html(nonce)}">${STYLE}</style></head>
<body><h1>edge-proxy <small id="at">connecting…</small></h1><div id="upstreams"></div>
<script nonce="${html(nonce)}">
const esc = (v) => String(v ?? '–').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const num = (v, d = 1) => (v === null || v === undefined ? '–' : Number(v).toFixed(d));
// Latencies are whole milliseconds (the runtimes' clocks): under one is '<1', never a made-up '0.0'.
const ms = (v) => (v === null || v === undefined ? '–' : v < 1 ? '<1' : String(Math.round(v)));
function row(t) {
  const health = t.healthy ? 'ok' : 'bad', breaker = t.breaker === 'closed' ? 'ok' : t.breaker === 'open' ? 'bad' : 'warn';
  const cooldown = t.breaker === 'open' ? ' (' + Math.ceil(t.cooldownLeftMs / 1000) + ' s)' : '';
  return '<tr data-target="' + esc(t.url) + '"><td>' + esc(t.url) + '</td><td class="' + health + '" data-health>' + (t.healthy ? 'healthy' : 'unhealthy') +
    '</td><td class="' + breaker + '" data-breaker>' + esc(t.breaker) + cooldown + '</td><td>' + t.inFlight + (t.limit === null ? '' : t.working === null ? ' / ' + t.limit : ' (working ' + t.working + ' / ' + t.limit + ')') + '</td><td>' + num(t.requestRate, 2) +
    '/s</td><td>' + num(t.errorRate, 2) + '/s</td><td>' + num(t.p50Ms) + '</td><td>' + num(t.p99Ms) + '</td></tr>';
}
function render(doc) {
  document.getElementById('at').textContent = 'updated ' + doc.at;
  document.getElementById('upstreams').innerHTML = Object.entries(doc.upstreams).map(([name, u]) =>
    '<h2>' + esc(name) + ' <small>retry budget: ' + u.retryBudget.retries + ' retries / ' + u.retryBudget.requests + ' requests (' + u.retryBudget.percent + ' %)</small></h2>' +
    (u.hedge ? '<p data-hedge><small>hedges: ' + u.hedge.sent + ' sent, ' + u.hedge.won + ' won, ' + u.hedge.cancelled + ' cancelled; delay ' +
      (u.hedge.delayMs === null ? 'learning' : u.hedge.delayMs + ' ms' + (u.hedge.learned ? ' (learned)' : '')) + '; ' + u.hedge.hedges + ' / ' + u.hedge.requests + ' requests (max ' + u.hedge.maxPercent + ' %)</small></p>' : '') +
    '<table><tr><th>target</th><th>health</th><th>breaker</th><th>in flight</th><th>requests</th><th>errors</th><th>p50 ms</th><th>p99 ms</th></tr>' +
    u.targets.map(row).join('') + '</table>' +
    (u.lastErrors.length ? '<p><small>last errors: ' + u.lastErrors.map((e) => esc(e.at.slice(11, 19) + ' ' + e.status + ' ' + (e.code || '') + ' ' + (e.target || ''))).join(' · ') + '</small></p>' : '')
  ).join('');
}
async function tick() {
  try {
    const res = await fetch(${scriptString(`${base}/dashboard.json`)}, { credentials: 'same-origin', cache: 'no-store' });
    if (res.status === 401) return location.reload();
    render(await res.json());
  } catch (e) { document.getElementById('at').textContent = 'proxy unreachable: retrying'; }
  setTimeout(tick, 1000);
}
tick();
</script></body></html>`
}

/** The login form: the admin token, posted to `{base}/login`, which sets the session cookie. */
export function loginPage(base: string, failed: boolean, nonce: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>edge-proxy: sign in</title><style nonce="${html(nonce)}">${STYLE}</style></head>
<body><h1>edge-proxy</h1><form method="post" action="${html(base)}/login"><label>Admin token <input type="password" name="token" autofocus></label>
<button type="submit">Sign in</button></form>${failed ? '<p class="bad">That token is not the admin token.</p>' : ''}</body></html>`
}
