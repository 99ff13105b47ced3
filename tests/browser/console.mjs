// Drives the live console of a running `tiandi serve` in headless Chromium: the page's
// headers, signing in, the globe drawn with every satellite of the twin, a task submitted
// through the API appearing in the console within 2 s, one submitted through its form,
// and the token kept out of the page and of storage.
//
//   node console.mjs URL TOKEN [--screenshot PNG]
import { launch, canvasStats, check, fail } from "./common.mjs";

const [base, token, ...rest] = process.argv.slice(2);
if (!base || !token) fail("usage: node console.mjs URL TOKEN [--screenshot PNG]");
const shot = rest[rest.indexOf("--screenshot") + 1];

async function apiCall(method, path, body) {
  const r = await fetch(base + path, {
    method,
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, body: await r.json() };
}

const browser = await launch();
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1100 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && !/GPU stall|GL Driver/.test(m.text())) errors.push(m.text());
  });
  const other = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(base + "/")) other.push(r.url());
  });

  const res = await page.goto(base + "/", { waitUntil: "load" });
  check(res.status() === 200, `GET / answers ${res.status()}`);
  const csp = res.headers()["content-security-policy"] || "";
  check(/script-src 'self'/.test(csp) && /connect-src 'self'/.test(csp) && !/unsafe/.test(csp), `CSP: ${csp}`);
  check(res.headers()["x-frame-options"] === "DENY", "framing refused");
  const html = await res.text();
  check(!html.includes(token), "the page carries no token");

  // A wrong token is refused and leaves the console closed.
  await page.fill("#token", "not-a-token-at-all-0000");
  await page.click("#login button");
  await page.waitForFunction(() => document.getElementById("login-error").textContent.length > 0);
  check(await page.evaluate(() => !window.tiandiConsole.signedIn()), "a wrong token does not sign in");
  // Its 401 is the one resource error expected: forget it.
  check(errors.every((e) => /401/.test(e)), "only the refusal was logged (" + errors.join("; ") + ")");
  errors.length = 0;

  await page.fill("#token", token);
  await page.click("#login button");
  await page.waitForFunction(() => window.tiandiConsole.signedIn() && window.tiandiConsole.drawn() > 0, null, { timeout: 15000 });
  const nodes = await apiCall("GET", "/v1/nodes");
  const nSats = nodes.body.nodes.filter((n) => n.kind === "satellite").length;
  const c = await page.evaluate(() => ({ sats: tiandiConsole.satellites(), drawn: tiandiConsole.drawn() }));
  check(c.sats === nSats && c.drawn === nSats, `${c.drawn} of the twin's ${nSats} satellites drawn`);
  await page.waitForTimeout(500);
  const stats = await canvasStats(page, "#globe-canvas");
  check(stats.sd > 12, `the console's globe is not blank: luminance sd ${stats.sd.toFixed(1)}`);

  // A task submitted through the API appears within 2 s (the event stream carries it).
  const origin = nodes.body.nodes.find((n) => n.kind === "ground-station").id;
  const spec = {
    kind: "earth-observation",
    origin,
    deadline_s: 600,
    stages: [{ work_flop: 2e13, input_bytes: 2e8, output_bytes: 2000, memory_bytes: 8e9 }],
  };
  const t0 = Date.now();
  const sub = await apiCall("POST", "/v1/tasks", spec);
  check(sub.status === 201, `submitted through the API: ${sub.status} ${JSON.stringify(sub.body).slice(0, 120)}`);
  const id = sub.body.id;
  await page.waitForSelector(`#tasks tr[data-task="${id}"]`, { timeout: 5000 });
  const ms = Date.now() - t0;
  check(ms <= 2000, `task ${id} appeared in the console ${ms} ms after its submission`);
  const want = sub.body.decision.stages.map((s) => s.node || "?").join(" > ");
  await page.waitForFunction(
    ([id, want]) => document.querySelector(`#tasks tr[data-task="${id}"]`).children[4].textContent === want,
    [id, want],
    { timeout: 5000 }
  );
  console.log(`ok: the row shows where the task's stages run: ${want}`);

  // And one through the console's own form.
  await page.fill("#spec", JSON.stringify(spec));
  await page.click("#submit button");
  await page.waitForFunction(() => /"id":\s*\d+/.test(document.getElementById("submit-result").textContent), null, { timeout: 5000 });
  const formId = await page.evaluate(() => JSON.parse(document.getElementById("submit-result").textContent).id);
  await page.waitForSelector(`#tasks tr[data-task="${formId}"]`, { timeout: 5000 });
  check(formId > id, `task ${formId} submitted through the form is listed`);

  // The token is nowhere in the page or its storage after use.
  const leaks = await page.evaluate((tok) => {
    const found = [];
    if (document.documentElement.outerHTML.includes(tok)) found.push("DOM");
    for (const s of [localStorage, sessionStorage]) for (let i = 0; i < s.length; i++) if (s.getItem(s.key(i)).includes(tok)) found.push("storage");
    if (document.cookie.includes(tok)) found.push("cookie");
    return found;
  }, token);
  check(leaks.length === 0, "no token in the DOM, storage or cookies (" + leaks.join(", ") + ")");
  check(await page.evaluate(() => tiandiConsole.events() > 0), "events arrived over the stream");
  check(other.length === 0, "the console asked no other origin (" + other.join(", ") + ")");
  check(errors.length === 0, "no script errors (" + errors.join("; ") + ")");
  if (shot && rest.includes("--screenshot")) {
    await page.screenshot({ path: shot, fullPage: false });
    console.log("screenshot: " + shot);
  }
} finally {
  await browser.close();
}
