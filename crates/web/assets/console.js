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
  var tasks = {}; // id -> view, the newest MAX_TASKS only
  var MAX_TASKS = 500;
  var pending = {}; // ids whose view an event made stale, fetched in batches
  var MAX_FETCHES = 20; // task views fetched per batch (the newest)
  var inFlight = 0; // requests of the last refresh still out: the next one waits
  var dirty = false; // the table is redrawn at most once a frame
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
        keep(r.body);
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
      // A function, so that `$&` or `$'` in a node's id is not read as a pattern.
      spec.value = spec.value.replace('"origin": ""', function () { return '"origin": ' + JSON.stringify(firstGround.id); });
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
    setInterval(fetchPending, 500);
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

  // The requests of one refresh; a slow server gets no second round until they are back.
  function counted(p) {
    inFlight++;
    var done = function () { inFlight--; };
    p.then(done, done);
    return p;
  }

  function refresh() {
    if (!token || inFlight > 0) return;
    counted(api("/v1/nodes")).then(function (r) {
      if (r.status !== 200) return;
      var at = Date.parse(r.body.at), wall = Date.now();
      if (twinAt && wall > twinAt[1]) twinRate = Math.max(0, (at - twinAt[0]) / (wall - twinAt[1]));
      twinAt = [at, wall];
      nodes = r.body.nodes;
      drawNodes(nodes);
      text($("globe-clock"), "twin at " + r.body.at);
    });
    counted(api("/v1/topology")).then(function (r) {
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
      counted(api("/v1/tasks?state=" + state + "&limit=200")).then(function (r) {
        if (r.status === 200) r.body.tasks.forEach(keep);
      });
    });
  }

  // Stores a task's view, forgets the oldest past MAX_TASKS, and marks the table stale.
  function keep(t) {
    tasks[t.id] = t;
    var ids = Object.keys(tasks);
    if (ids.length > MAX_TASKS) {
      ids.map(Number).sort(function (a, b) { return a - b; })
        .slice(0, ids.length - MAX_TASKS)
        .forEach(function (id) { delete tasks[id]; delete pending[id]; });
    }
    dirty = true;
  }

  // The views that events made stale, newest first, at most MAX_FETCHES a batch: a tenant
  // that submits fast costs each console a bounded number of requests.
  function fetchPending() {
    if (!token) return;
    var ids = Object.keys(pending).map(Number).sort(function (a, b) { return b - a; });
    pending = {};
    ids.slice(0, MAX_FETCHES).forEach(function (id) {
      api("/v1/tasks/" + id).then(function (r) {
        if (r.status === 200) keep(r.body);
      });
    });
  }

  // The event stream, read with fetch so the token travels in a header, not the URL.
  var retry = 2000; // ms before reconnecting; doubles up to 30 s while refused
  function follow() {
    stream = new AbortController();
    fetch("/v1/events", { headers: { Authorization: "Bearer " + token }, credentials: "omit", signal: stream.signal })
      .then(function (r) {
        if (r.status === 401 || r.status === 403) {
          var e = new Error("event stream refused: " + r.status);
          e.final = true;
          throw e;
        }
        if (!r.ok || !r.body) throw new Error("event stream: " + r.status);
        retry = 2000;
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
        if (e.final) { addEvent("(" + e.message + "; not reconnecting: sign in again)"); return; }
        addEvent("(" + e.message + "; reconnecting in " + retry / 1000 + " s)");
        setTimeout(function () { if (token) follow(); }, retry);
        retry = Math.min(30000, retry * 2);
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
      keep(t);
      if (tasks[ev.id]) pending[ev.id] = true;
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
    if (dirty) { dirty = false; drawTasks(); }
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
