// The live console of `tiandi serve`: sign in with a token (kept in memory only), draw the
// live twin on the globe, list tasks, follow the event stream, submit tasks. Same origin:
// every request is a relative path.
(function () {
  "use strict";
  var token = null;
  var globe = null;
  var nodes = [];
  var index = {};
  var nSats = 0;
  var tasks = {}; // id -> view
  var events = 0;
  var stream = null;
  var timer = null;
  var $ = function (id) { return document.getElementById(id); };

  function api(path, opts) {
    opts = opts || {};
    var headers = { Authorization: "Bearer " + token };
    if (opts.body) headers["Content-Type"] = "application/json";
    return fetch(path, {
      method: opts.method || "GET",
      headers: headers,
      body: opts.body,
      credentials: "omit",
      cache: "no-store",
      signal: opts.signal,
    }).then(function (r) {
      return r.text().then(function (t) {
        var body = null;
        try { body = t ? JSON.parse(t) : null; } catch (e) { body = { error: t }; }
        return { status: r.status, body: body };
      });
    });
  }

  function text(el, s) { el.textContent = s; }
  function cell(tr, s) { var td = document.createElement("td"); td.textContent = s == null ? "-" : String(s); tr.appendChild(td); }

  $("login").addEventListener("submit", function (e) {
    e.preventDefault();
    token = $("token").value.trim();
    $("token").value = "";
    api("/v1/nodes").then(function (r) {
      if (r.status !== 200) {
        token = null;
        text($("login-error"), "Signing in failed: " + r.status + " " + ((r.body && r.body.error) || ""));
        return;
      }
      text($("login-error"), "");
      start(r.body.nodes);
    }, function (err) { token = null; text($("login-error"), "Signing in failed: " + err); });
  });

  $("logout").addEventListener("click", function () {
    token = null;
    if (stream) stream.abort();
    if (timer) clearInterval(timer);
    location.reload();
  });

  $("submit").addEventListener("submit", function (e) {
    e.preventDefault();
    var body = $("spec").value;
    try { JSON.parse(body); } catch (err) { text($("submit-result"), "not JSON: " + err.message); return; }
    api("/v1/tasks", { method: "POST", body: body }).then(function (r) {
      if (r.status === 201 && r.body && r.body.id !== undefined) {
        text($("submit-result"), JSON.stringify(r.body, null, 1));
        tasks[r.body.id] = r.body;
        drawTasks();
      } else {
        text($("submit-result"), "refused (" + r.status + "): " + JSON.stringify(r.body));
      }
    });
  });

  function kindOf(k) { return k === "ground-station" ? "station" : k === "data-centre" ? "dc" : "region"; }

  function start(list) {
    nodes = list;
    index = {};
    nodes.forEach(function (n, i) { index[n.id] = i; });
    nSats = nodes.filter(function (n) { return n.kind === "satellite"; }).length;
    var ground = nodes.slice(nSats).map(function (n) {
      return { name: n.id, kind: kindOf(n.kind), lat: n.latitude_deg, lon: n.longitude_deg };
    });
    $("login").hidden = true;
    $("app").hidden = false;
    text($("status"), "signed in; " + nodes.length + " nodes, " + nSats + " satellites");
    var firstGround = nodes[nSats];
    var spec = $("spec");
    if (firstGround && spec.value.indexOf('"origin": ""') >= 0) {
      spec.value = spec.value.replace('"origin": ""', '"origin": ' + JSON.stringify(firstGround.id));
    }
    globe = TiandiGlobe.create($("globe-canvas"), {
      nSatellites: nSats,
      ground: ground,
      land: [],
      maxIsls: 8 * Math.max(1, nSats),
      maxLinks: 4 * Math.max(1, nodes.length),
    });
    fetch("/console/land.txt", { credentials: "omit" }).then(function (r) { return r.text(); }).then(function (t) {
      // Land drawn once it arrives: rebuild the globe's land lines.
      globe.setLand(parseLand(t));
    });
    globe.onPick = function (i) {
      if (i === null) { text($("globe-info"), "Click a satellite to see its state."); text($("node-detail"), ""); return; }
      text($("globe-info"), "Satellite " + nodes[i].id);
      api("/v1/nodes/" + encodeURIComponent(nodes[i].id)).then(function (r) {
        text($("node-detail"), JSON.stringify(r.body, null, 2));
      });
    };
    drawNodes(list);
    refresh();
    timer = setInterval(refresh, 2000);
    follow();
    requestAnimationFrame(frame);
  }

  function parseLand(t) {
    var rings = [];
    t.split("\n").forEach(function (line) {
      if (!line || line[0] === "#" || line.indexOf("h ") === 0) return;
      var ring = [];
      line.split(" ").forEach(function (p) {
        var xy = p.split(",");
        if (xy.length === 2) ring.push(parseFloat(xy[0]), parseFloat(xy[1]));
      });
      rings.push(ring);
    });
    return rings;
  }

  function drawNodes(list) {
    var ecef = new Float32Array(3 * nSats);
    var col = new Float32Array(3 * nSats);
    for (var i = 0; i < nSats; i++) {
      var n = list[i];
      var e = TiandiGlobe.geodetic(n.latitude_deg, n.longitude_deg, n.altitude_km);
      ecef.set(e, 3 * i);
      var c = n.down ? [1, 0.3, 0.3] : n.load && n.load.active_stages > 0 ? [1, 0.75, 0.2] : n.agent && n.agent.live ? [0.5, 1, 0.6] : [0.9, 0.94, 1];
      col.set(c, 3 * i);
    }
    globe.setSatellites(ecef);
    globe.setSatelliteColours(col);
  }

  function refresh() {
    if (!token) return;
    api("/v1/nodes").then(function (r) {
      if (r.status !== 200) return;
      var at = Date.parse(r.body.at), wall = Date.now();
      if (twinAt && wall > twinAt[1]) twinRate = Math.max(0, (at - twinAt[0]) / (wall - twinAt[1]));
      twinAt = [at, wall];
      nodes = r.body.nodes;
      drawNodes(nodes);
      text($("globe-clock"), "twin at " + r.body.at);
    });
    api("/v1/topology").then(function (r) {
      if (r.status !== 200) return;
      var isl = [];
      var other = [];
      r.body.links.forEach(function (l) {
        var a = index[l.a], b = index[l.b];
        if (a === undefined || b === undefined) return;
        if (a < nSats && b < nSats) isl.push(a, b); else other.push(a, b, 0.15);
      });
      globe.setIsls(isl);
      globe.setLinks(other);
    });
    ["queued", "running"].forEach(function (state) {
      api("/v1/tasks?state=" + state + "&limit=200").then(function (r) {
        if (r.status === 200) r.body.tasks.forEach(function (t) { tasks[t.id] = t; });
        drawTasks();
      });
    });
  }

  function fetchTask(id) {
    api("/v1/tasks/" + id).then(function (r) {
      if (r.status === 200) { tasks[r.body.id] = r.body; drawTasks(); }
    });
  }

  // The event stream, read with fetch so the token travels in a header, not the URL.
  function follow() {
    stream = new AbortController();
    fetch("/v1/events", { headers: { Authorization: "Bearer " + token }, credentials: "omit", signal: stream.signal })
      .then(function (r) {
        if (!r.ok || !r.body) throw new Error("event stream: " + r.status);
        var reader = r.body.getReader();
        var dec = new TextDecoder();
        var buf = "";
        function pump() {
          return reader.read().then(function (x) {
            if (x.done) throw new Error("event stream ended");
            buf += dec.decode(x.value, { stream: true });
            var at;
            while ((at = buf.indexOf("\n\n")) >= 0) {
              onEvent(buf.slice(0, at));
              buf = buf.slice(at + 2);
            }
            return pump();
          });
        }
        return pump();
      })
      .catch(function (e) {
        if (!token) return;
        addEvent("(" + e.message + "; reconnecting in 2 s)");
        setTimeout(function () { if (token) follow(); }, 2000);
      });
  }

  function onEvent(block) {
    var name = "message";
    var data = "";
    block.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) name = line.slice(6).trim();
      else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
    });
    if (!data) return;
    var ev = null;
    try { ev = JSON.parse(data); } catch (e) { return; }
    events++;
    addEvent(name + " " + data);
    if (name === "task" && ev.id !== undefined) {
      var t = tasks[ev.id] || { id: ev.id };
      t.state = ev.state;
      tasks[ev.id] = t;
      drawTasks();
      fetchTask(ev.id);
    }
  }

  function addEvent(s) {
    var li = document.createElement("li");
    li.textContent = new Date().toISOString().slice(11, 19) + " " + s;
    var ol = $("events");
    ol.insertBefore(li, ol.firstChild);
    while (ol.children.length > 100) ol.removeChild(ol.lastChild);
  }

  function drawTasks() {
    var ids = Object.keys(tasks).map(Number).sort(function (a, b) { return b - a; }).slice(0, 200);
    var body = $("tasks").tBodies[0];
    while (body.firstChild) body.removeChild(body.firstChild);
    ids.forEach(function (id) {
      var t = tasks[id];
      var tr = document.createElement("tr");
      tr.dataset.task = String(id);
      cell(tr, id);
      cell(tr, t.kind);
      cell(tr, t.state);
      cell(tr, t.origin);
      var st = stagesOf(t);
      cell(tr, st ? st.map(function (s) { return s.node || "?"; }).join(" > ") : null);
      cell(tr, t.twin_submitted);
      cell(tr, t.expected_finish);
      body.appendChild(tr);
    });
  }

  function stagesOf(t) { return t.decision && t.decision.stages; }

  // Tasks in flight as dots moving from their origin through their stages' nodes, on the
  // twin's clock (which may run faster than the wall's).
  var twinAt = null; // [twin ms, wall ms] of the last node listing
  var twinRate = 1;
  function twinNow() {
    if (!twinAt) return NaN;
    return twinAt[0] + (Date.now() - twinAt[1]) * twinRate;
  }
  function flows() {
    var now = twinNow();
    var list = [];
    Object.keys(tasks).forEach(function (id) {
      var t = tasks[id];
      var st = stagesOf(t);
      if (!st || (t.state !== "queued" && t.state !== "running")) return;
      var path = [index[t.origin]];
      st.forEach(function (s) { if (s.node && index[s.node] !== undefined) path.push(index[s.node]); });
      if (path[0] === undefined) return;
      var a = Date.parse(t.twin_submitted), b = Date.parse(t.expected_finish);
      var frac = b > a ? (now - a) / (b - a) : 0.5;
      list.push({ path: path, frac: Math.max(0, Math.min(1, frac)), kind: t.state === "running" ? 1 : 0 });
    });
    globe.setFlows(list);
  }

  function frame() {
    if (!token) return;
    flows();
    globe.render();
    text($("globe-fps"), globe.fps().toFixed(0) + " fps");
    requestAnimationFrame(frame);
  }

  // For the browser tests.
  window.tiandiConsole = {
    signedIn: function () { return token !== null; },
    satellites: function () { return nSats; },
    drawn: function () { return globe ? globe.satellitesDrawn() : 0; },
    taskIds: function () { return Object.keys(tasks).map(Number); },
    events: function () { return events; },
    fps: function () { return globe ? globe.fps() : 0; },
  };
})();
