// Opens a report.html from disk in headless Chromium with the network cut off and checks
// its globe: drawn (not blank), every satellite of the run in it, the time slider moving
// them, a click picking one. Optionally saves a screenshot and measures the frame rate.
//
//   node report.mjs REPORT.html N_SATELLITES [--screenshot PNG] [--fps SECONDS]
import { pathToFileURL } from "node:url";
import { launch, canvasStats, snapshot, differing, check, fail } from "./common.mjs";

const [file, expectedText, ...rest] = process.argv.slice(2);
if (!file || !expectedText) fail("usage: node report.mjs REPORT.html N_SATELLITES [--screenshot PNG] [--fps S]");
const expected = Number(expectedText);
const opt = (name) => {
  const i = rest.indexOf(name);
  return i >= 0 ? rest[i + 1] : undefined;
};

const browser = await launch();
try {
  const context = await browser.newContext({ offline: true, viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const url = pathToFileURL(file).href;
  const requests = [];
  page.on("request", (r) => {
    if (r.url() !== url) requests.push(r.url());
  });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && !/GPU stall|GL Driver/.test(m.text())) errors.push(m.text());
  });
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(() => window.tiandiGlobe && window.tiandiGlobe.frames() > 2, null, { timeout: 30000 });
  check(errors.length === 0, "no script errors (" + errors.join("; ") + ")");
  check(requests.length === 0, "the page asked for nothing over the network (" + requests.join(", ") + ")");

  await page.locator("#globe-canvas").scrollIntoViewIfNeeded();
  const stats = await canvasStats(page, "#globe-canvas");
  check(stats.sd > 12, `the globe is not blank: luminance sd ${stats.sd.toFixed(1)} over ${stats.pixels} pixels`);

  const g = await page.evaluate(() => ({ expected: tiandiGlobe.expected, drawn: tiandiGlobe.drawn() }));
  check(g.expected === expected, `the page holds ${g.expected} satellites, the run had ${expected}`);
  check(g.drawn === expected, `${g.drawn} satellites drawn, ${expected} in the run`);

  // Moving the slider moves the satellites: on screen and in the pixels.
  const setSlider = (t) =>
    page.evaluate((t) => {
      const s = document.getElementById("globe-time");
      s.value = String(t);
      s.dispatchEvent(new Event("input", { bubbles: true }));
    }, t);
  await setSlider(0);
  const before = await page.evaluate(() => tiandiGlobe.screen());
  await snapshot(page, "#globe-canvas", "t0");
  await setSlider(600);
  const after = await page.evaluate(() => tiandiGlobe.screen());
  await snapshot(page, "#globe-canvas", "t600");
  const t = await page.evaluate(() => tiandiGlobe.time());
  check(t === 600, `the slider set the time to ${t} s`);
  let both = 0;
  let moved = 0;
  for (let i = 0; i < before.length; i++) {
    if (before[i] && after[i]) {
      both++;
      if (Math.hypot(before[i][0] - after[i][0], before[i][1] - after[i][1]) > 2) moved++;
    }
  }
  check(both > 0 && moved / both > 0.95, `${moved} of ${both} satellites in view at both times moved on screen`);
  const diff = await differing(page, "t0", "t600");
  check(diff > 0.001, `${(diff * 100).toFixed(2)} % of the pixels changed with the slider`);

  // A click on a satellite in view picks it and shows its state.
  const pos = after.find((p) => p && p[0] > 20 && p[1] > 20 && p[0] < 940 && p[1] < 540);
  if (!pos) fail("no satellite in view to click");
  const box = await page.locator("#globe-canvas").boundingBox();
  const c = await page.evaluate(() => [document.getElementById("globe-canvas").width, document.getElementById("globe-canvas").height]);
  await page.mouse.click(box.x + (pos[0] * box.width) / c[0], box.y + (pos[1] * box.height) / c[1]);
  const info = await page.textContent("#globe-info");
  check(/^Satellite \d+/.test(info), `a click picked a satellite: ${JSON.stringify(info)}`);

  const shot = opt("--screenshot");
  if (shot) {
    await page.locator(".globe").screenshot({ path: shot });
    console.log("screenshot: " + shot);
  }

  const fpsFor = opt("--fps");
  if (fpsFor) {
    await page.selectOption("#globe-speed", "60");
    await page.click("#globe-play");
    const f0 = await page.evaluate(() => tiandiGlobe.frames());
    const t0 = Date.now();
    await page.waitForTimeout(Number(fpsFor) * 1000);
    const f1 = await page.evaluate(() => tiandiGlobe.frames());
    const secs = (Date.now() - t0) / 1000;
    const size = await page.evaluate(() => [document.getElementById("globe-canvas").width, document.getElementById("globe-canvas").height]);
    console.log(JSON.stringify({ fps: (f1 - f0) / secs, frames: f1 - f0, seconds: secs, satellites: expected, canvas: size }));
  }
} finally {
  await browser.close();
}
