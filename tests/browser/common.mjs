// Shared by the browser tests: start Debian's Chromium headless through playwright-core,
// and measure what a canvas shows.
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.TIANDI_CHROMIUM || "/usr/bin/chromium";

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--enable-unsafe-swiftshader",
      "--use-angle=swiftshader",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

// Mean and standard deviation of the luminance of a canvas (selector) as drawn now.
export async function canvasStats(page, selector) {
  return page.evaluate((sel) => {
    const c = document.querySelector(sel);
    const copy = document.createElement("canvas");
    copy.width = c.width;
    copy.height = c.height;
    const ctx = copy.getContext("2d");
    ctx.drawImage(c, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    let sq = 0;
    const n = d.length / 4;
    for (let i = 0; i < d.length; i += 4) {
      const y = 0.2126 * d[i] + 0.7152 * d[i + 1] + 0.0722 * d[i + 2];
      sum += y;
      sq += y * y;
    }
    const mean = sum / n;
    return { mean, sd: Math.sqrt(Math.max(0, sq / n - mean * mean)), pixels: n };
  }, selector);
}

// Keeps the canvas's green channel as drawn now under window.__snaps[key].
export async function snapshot(page, selector, key) {
  await page.evaluate(
    ([sel, k]) => {
      const c = document.querySelector(sel);
      const copy = document.createElement("canvas");
      copy.width = c.width;
      copy.height = c.height;
      const ctx = copy.getContext("2d");
      ctx.drawImage(c, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      const g = new Uint8Array(d.length / 4);
      for (let i = 0; i < g.length; i++) g[i] = d[4 * i + 1];
      window.__snaps = window.__snaps || {};
      window.__snaps[k] = g;
    },
    [selector, key]
  );
}

// Fraction of pixels whose green channel differs by more than 8 between two snapshots.
export async function differing(page, a, b) {
  return page.evaluate(
    ([a, b]) => {
      const x = window.__snaps[a];
      const y = window.__snaps[b];
      let k = 0;
      for (let i = 0; i < x.length; i++) if (Math.abs(x[i] - y[i]) > 8) k++;
      return k / x.length;
    },
    [a, b]
  );
}

export function fail(msg) {
  console.error("FAIL: " + msg);
  process.exit(1);
}

export function check(cond, msg) {
  if (!cond) fail(msg);
  console.log("ok: " + msg);
}
