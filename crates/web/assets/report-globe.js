// report.html's globe: decodes the run's samples embedded in #globe-data, interpolates the
// satellites between them, and animates links, task flows and the picked satellite's state.
(function () {
  "use strict";
  var OMEGA = 7.2921150e-5; // rad/s, the Earth's rotation (IERS)
  var holder = document.getElementById("globe-data");
  var canvas = document.getElementById("globe-canvas");
  var note = document.getElementById("globe-note");
  if (!holder || !canvas) return;
  if (!window.THREE || !window.WebGLRenderingContext) {
    if (note) note.textContent = "This browser has no WebGL: the maps below show the same network.";
    return;
  }
  var D = JSON.parse(holder.textContent);

  function bytes(b64) {
    var s = atob(b64);
    var u = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
    return u.buffer;
  }
  function i16(b64) { return new Int16Array(bytes(b64)); }
  function u16(b64) { return new Uint16Array(bytes(b64)); }
  function u32(b64) { return new Uint32Array(bytes(b64)); }
  function u8(b64) { return new Uint8Array(bytes(b64)); }
  function f32(b64) { return new Float32Array(bytes(b64)); }

  var n = D.n_satellites;
  var S = D.n_samples;
  var P = i16(D.pos);
  var scales = D.pos_scales_km; // km per unit, one per satellite
  var globe;
  try {
    globe = TiandiGlobe.create(canvas, {
      nSatellites: n,
      ground: D.ground,
      land: D.land,
      regionRings: D.region_rings,
      maxIsls: Math.max(1, D.isl_pairs),
      maxLinks: Math.max(1, D.links.max_per_sample),
      lon0: D.view_lon,
      lat0: D.view_lat,
    });
  } catch (e) {
    if (note) note.textContent = "The globe could not start WebGL (" + e.message + "): the maps below show the same network.";
    return;
  }
  globe.setIsls(u32(D.isl));
  var L = { off: u32(D.links.offsets), a: u16(D.links.a), b: u16(D.links.b), u: u8(D.links.util) };
  var F = {
    arrival: f32(D.flows.arrival_s),
    finish: f32(D.flows.finish_s),
    kind: u8(D.flows.kind),
    off: u32(D.flows.offsets),
    nodes: u16(D.flows.nodes),
  };
  var Z = D.series ? { soc: i16(D.series.soc), temp: i16(D.series.temp), compute: i16(D.series.compute) } : null;

  // Position of satellite i at t s: the two samples around t, slerped in the frame that
  // turns with the Earth's start (so a circular orbit's arc is followed exactly), then
  // turned back by the Earth's rotation since the start into ECEF.
  var ecef = new Float32Array(3 * n);
  function positions(t) {
    var k = Math.min(S - 2, Math.max(0, Math.floor(t / D.sample_s)));
    var f = Math.min(1, Math.max(0, (t - k * D.sample_s) / D.sample_s));
    if (S < 2) { k = 0; f = 0; }
    var c = Math.cos(OMEGA * t), s = Math.sin(OMEGA * t);
    for (var i = 0; i < n; i++) {
      var ia = 3 * (k * n + i);
      var ib = S < 2 ? ia : 3 * ((k + 1) * n + i);
      if (P[ia] === -32768 || P[ib] === -32768) {
        ecef[3 * i] = ecef[3 * i + 1] = ecef[3 * i + 2] = NaN;
        continue;
      }
      var scale = scales[i];
      var ax = P[ia] * scale, ay = P[ia + 1] * scale, az = P[ia + 2] * scale;
      var bx = P[ib] * scale, by = P[ib + 1] * scale, bz = P[ib + 2] * scale;
      var ra = Math.hypot(ax, ay, az), rb = Math.hypot(bx, by, bz);
      var cosT = (ax * bx + ay * by + az * bz) / (ra * rb);
      var th = Math.acos(Math.max(-1, Math.min(1, cosT)));
      var wa, wb;
      if (th < 1e-9) { wa = 1 - f; wb = f; } else {
        var st = Math.sin(th);
        wa = Math.sin((1 - f) * th) / st;
        wb = Math.sin(f * th) / st;
      }
      var r = ra + f * (rb - ra);
      var ux = wa * ax / ra + wb * bx / rb, uy = wa * ay / ra + wb * by / rb, uz = wa * az / ra + wb * bz / rb;
      var px = r * ux, py = r * uy, pz = r * uz;
      ecef[3 * i] = c * px + s * py;
      ecef[3 * i + 1] = -s * px + c * py;
      ecef[3 * i + 2] = pz;
    }
    return ecef;
  }

  function links(t) {
    var k = Math.min(S - 1, Math.max(0, Math.floor(t / D.sample_s)));
    var list = [];
    for (var j = L.off[k]; j < L.off[k + 1]; j++) list.push(L.a[j], L.b[j], L.u[j] / 255);
    return globe.setLinks(list);
  }

  var inFlight = 0;
  function flows(t) {
    var list = [];
    for (var j = 0; j < F.arrival.length; j++) {
      var a = F.arrival[j], b = F.finish[j];
      if (t < a || t > b) continue;
      var path = Array.prototype.slice.call(F.nodes, F.off[j], F.off[j + 1]);
      list.push({ path: path, frac: b > a ? (t - a) / (b - a) : 1, kind: F.kind[j] });
    }
    inFlight = list.length;
    globe.setFlows(list);
  }

  // Controls.
  var slider = document.getElementById("globe-time");
  var play = document.getElementById("globe-play");
  var speed = document.getElementById("globe-speed");
  var clock = document.getElementById("globe-clock");
  var info = document.getElementById("globe-info");
  var chart = document.getElementById("globe-chart");
  var t = 0;
  var playing = false;
  slider.max = String(D.duration_s);
  function setTime(x) {
    t = Math.max(0, Math.min(D.duration_s, x));
    slider.value = String(t);
    draw();
  }
  slider.addEventListener("input", function () { setTime(parseFloat(slider.value)); });
  play.addEventListener("click", function () {
    playing = !playing;
    if (playing && t >= D.duration_s) t = 0;
    play.textContent = playing ? "Pause" : "Play";
  });

  function iso(ts) { return new Date(D.start_ms + ts * 1000).toISOString().replace(".000Z", "Z"); }

  function draw() {
    globe.setSatellites(positions(t));
    links(t);
    flows(t);
    globe.render();
    clock.textContent = iso(t) + "  (t = " + t.toFixed(0) + " s; " + inFlight + " sampled tasks in flight; " +
      globe.fps().toFixed(0) + " fps)";
    if (globe.selected !== null) drawChart(globe.selected);
  }

  function drawChart(i) {
    if (!Z || !chart) return;
    var ctx = chart.getContext("2d");
    var W = chart.width, H = chart.height;
    ctx.clearRect(0, 0, W, H);
    var m = D.series.n_points;
    var rows = [
      { name: "battery state of charge, %", v: function (j) { return Z.soc[i * m + j] / 100; }, lo: 0, hi: 100, c: "#66bb6a" },
      { name: "temperature, K", v: function (j) { return Z.temp[i * m + j] / 10; }, c: "#ffa726" },
      { name: "compute power, W", v: function (j) { return Z.compute[i * m + j]; }, lo: 0, c: "#4fc3f7" },
    ];
    var h = H / 3;
    ctx.font = "11px sans-serif";
    rows.forEach(function (row, r) {
      var lo = row.lo, hi = row.hi;
      var vals = [];
      for (var j = 0; j < m; j++) vals.push(row.v(j));
      if (lo === undefined) lo = Math.min.apply(null, vals) - 1;
      if (hi === undefined) hi = Math.max.apply(null, vals) + 1;
      if (hi <= lo) hi = lo + 1;
      var y0 = r * h + 16, yh = h - 24;
      ctx.strokeStyle = "#556";
      ctx.strokeRect(40, y0, W - 48, yh);
      ctx.fillStyle = "#ccd";
      ctx.fillText(row.name + "  (" + lo.toFixed(0) + " to " + hi.toFixed(0) + ")", 40, y0 - 4);
      ctx.strokeStyle = row.c;
      ctx.beginPath();
      for (var q = 0; q < m; q++) {
        var x = 40 + ((W - 48) * D.series.t_s[q]) / Math.max(1, D.duration_s);
        var y = y0 + yh - (yh * (vals[q] - lo)) / (hi - lo);
        if (q === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      }
      ctx.stroke();
      var cx = 40 + ((W - 48) * t) / Math.max(1, D.duration_s);
      ctx.strokeStyle = "#fff";
      ctx.beginPath();
      ctx.moveTo(cx, y0);
      ctx.lineTo(cx, y0 + yh);
      ctx.stroke();
    });
  }

  globe.onPick = function (i) {
    if (i === null) {
      info.textContent = "Click a satellite to see its power, thermal and compute state over the run.";
      if (chart) chart.getContext("2d").clearRect(0, 0, chart.width, chart.height);
      return;
    }
    info.textContent = "Satellite " + i + ": " + D.names[i] + (Z ? " (" + D.policy + ", every " + D.series.every_s + " s)" : " (no node series in the output)");
    draw();
  };

  var last = performance.now();
  function tick(now) {
    var dt = Math.min(0.25, (now - last) / 1000);
    last = now;
    if (playing) {
      t += dt * parseFloat(speed.value);
      if (t >= D.duration_s) { t = D.duration_s; playing = false; play.textContent = "Play"; }
      slider.value = String(t);
    }
    draw();
    requestAnimationFrame(tick);
  }
  if (note) note.textContent = "";
  draw();
  requestAnimationFrame(tick);

  // For the browser tests and for scripting the page.
  window.tiandiGlobe = {
    expected: n,
    setTime: setTime,
    time: function () { return t; },
    drawn: globe.satellitesDrawn,
    screen: globe.screenPositions,
    fps: globe.fps,
    frames: globe.frames,
    inFlight: function () { return inFlight; },
    pick: function (i) { globe.select(i); globe.onPick(i); },
  };
})();
