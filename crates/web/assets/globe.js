// tiandi's globe: the Earth, its land, the satellites, their links and task flows, drawn
// with the vendored three.js (global THREE). Shared by report.html and the serve console.
// It draws what it is handed: positions in ECEF km, links as node-index pairs, task paths.
(function () {
  "use strict";
  var RE = 6371.0; // km: one scene unit
  var KIND_COLOURS = ["#ffb000", "#4fc3f7", "#ef5fa7", "#9ccc65", "#ffffff", "#ff7043"];

  // ECEF (x, y, z) to the scene (x, z, -y): the north pole points up the screen.
  function scene(x, y, z, out, at) {
    out[at] = x / RE;
    out[at + 1] = z / RE;
    out[at + 2] = -y / RE;
  }

  function geodetic(latDeg, lonDeg, altKm) {
    var la = (latDeg * Math.PI) / 180;
    var lo = (lonDeg * Math.PI) / 180;
    var r = RE + (altKm || 0);
    return [r * Math.cos(la) * Math.cos(lo), r * Math.cos(la) * Math.sin(lo), r * Math.sin(la)];
  }

  // Utilisation 0..1 to a colour from blue (idle) through yellow to red (full).
  function loadColour(u, out, at) {
    var v = Math.max(0, Math.min(1, u));
    var r, g, b;
    if (v < 0.5) {
      r = 0.2 + 1.6 * v;
      g = 0.55 + 0.7 * v;
      b = 1.0 - 1.6 * v;
    } else {
      r = 1.0;
      g = 0.9 - 1.5 * (v - 0.5);
      b = 0.2 - 0.3 * (v - 0.5);
    }
    out[at] = r;
    out[at + 1] = g;
    out[at + 2] = Math.max(0, b);
  }

  function lineObject(maxSegments, colour, opacity, vertexColours) {
    var geom = new THREE.BufferGeometry();
    var pos = new Float32Array(maxSegments * 6);
    geom.setAttribute("position", new THREE.BufferAttribute(pos, 3));
    var mat = new THREE.LineBasicMaterial({
      color: colour,
      transparent: opacity < 1,
      opacity: opacity,
      vertexColors: !!vertexColours,
    });
    if (vertexColours) {
      geom.setAttribute("color", new THREE.BufferAttribute(new Float32Array(maxSegments * 6), 3));
    }
    geom.setDrawRange(0, 0);
    var obj = new THREE.LineSegments(geom, mat);
    obj.frustumCulled = false;
    return obj;
  }

  function pointObject(max, size, colour, vertexColours) {
    var geom = new THREE.BufferGeometry();
    geom.setAttribute("position", new THREE.BufferAttribute(new Float32Array(max * 3), 3));
    if (vertexColours) {
      geom.setAttribute("color", new THREE.BufferAttribute(new Float32Array(max * 3), 3));
    }
    geom.setDrawRange(0, 0);
    var mat = new THREE.PointsMaterial({
      size: size,
      sizeAttenuation: false,
      color: vertexColours ? 0xffffff : colour,
      vertexColors: !!vertexColours,
    });
    var obj = new THREE.Points(geom, mat);
    obj.frustumCulled = false;
    return obj;
  }

  function hex(c) {
    var col = new THREE.Color(c);
    return [col.r, col.g, col.b];
  }

  // opts: { nSatellites, ground: [{name, kind: "station"|"dc"|"region", lat, lon}],
  //         land: [[lon, lat, lon, lat, ...], ...], regionRings: [[lon, lat, ...], ...],
  //         maxLinks, maxFlows }
  function create(canvas, opts) {
    var n = opts.nSatellites;
    var ground = opts.ground || [];
    var renderer = new THREE.WebGLRenderer({
      canvas: canvas,
      antialias: false, // software rendering: 24 fps with it, 44 without, at 1,584 satellites
      preserveDrawingBuffer: true,
    });
    renderer.setPixelRatio(1);
    var sceneRoot = new THREE.Scene();
    sceneRoot.background = new THREE.Color(0x04060c);
    var camera = new THREE.PerspectiveCamera(38, 1, 0.01, 100);
    var view = { lon: opts.lon0 || 110, lat: opts.lat0 || 25, dist: 4.0 };

    // Earth, graticule and land.
    var earth = new THREE.Mesh(
      new THREE.SphereGeometry(0.999, 64, 32),
      new THREE.MeshBasicMaterial({ color: 0x0d2745 })
    );
    sceneRoot.add(earth);
    var grat = [];
    var p = new Float32Array(3);
    function pushGeo(arr, lat, lon, r) {
      var e = geodetic(lat, lon, r || 0);
      scene(e[0], e[1], e[2], p, 0);
      arr.push(p[0], p[1], p[2]);
    }
    var lat, lon;
    for (lat = -60; lat <= 60; lat += 30) {
      for (lon = -180; lon < 180; lon += 5) {
        pushGeo(grat, lat, lon);
        pushGeo(grat, lat, lon + 5);
      }
    }
    for (lon = -180; lon < 180; lon += 30) {
      for (lat = -85; lat < 85; lat += 5) {
        pushGeo(grat, lat, lon);
        pushGeo(grat, lat + 5, lon);
      }
    }
    sceneRoot.add(staticLines(grat, 0x1a3556, 1));
    function ringLines(rings, colour, lift) {
      var segs = [];
      rings.forEach(function (ring) {
        for (var i = 0; i + 3 < ring.length; i += 2) {
          pushGeo(segs, ring[i + 1], ring[i], lift);
          pushGeo(segs, ring[i + 3], ring[i + 2], lift);
        }
      });
      return staticLines(segs, colour, 1);
    }
    var landObj = ringLines(opts.land || [], 0x5f9e7a, 2);
    sceneRoot.add(landObj);
    sceneRoot.add(ringLines(opts.regionRings || [], 0xc070d0, 4));

    // Ground nodes, fixed to the Earth.
    var groundPos = new Float32Array(ground.length * 3);
    var groundCol = new Float32Array(ground.length * 3);
    var groundColours = { station: hex("#ffa726"), dc: hex("#66ffa6"), region: hex("#e070f0") };
    ground.forEach(function (g, i) {
      var e = geodetic(g.lat, g.lon, 5);
      scene(e[0], e[1], e[2], groundPos, 3 * i);
      var c = groundColours[g.kind] || [1, 1, 1];
      groundCol.set(c, 3 * i);
    });
    var groundPts = pointObject(Math.max(1, ground.length), 7, 0, true);
    groundPts.geometry.attributes.position.array.set(groundPos);
    groundPts.geometry.attributes.color.array.set(groundCol);
    groundPts.geometry.setDrawRange(0, ground.length);
    sceneRoot.add(groundPts);

    // Satellites.
    var satPos = new Float32Array(Math.max(1, n) * 3);
    var satOk = new Uint8Array(Math.max(1, n));
    var sats = pointObject(Math.max(1, n), opts.satSize || 3, 0, true);
    var satCol = sats.geometry.attributes.color.array;
    for (var i = 0; i < n; i++) satCol.set([0.9, 0.94, 1.0], 3 * i);
    sceneRoot.add(sats);
    var selected = pointObject(1, 13, 0xffee58, false);
    selected.visible = false;
    sceneRoot.add(selected);

    // Links: the ISL web (grey) and the loaded links (coloured by utilisation).
    var isls = lineObject(opts.maxIsls || 4 * Math.max(1, n), 0x7d8da6, 0.28, false);
    sceneRoot.add(isls);
    var links = lineObject(opts.maxLinks || 4000, 0xffffff, 0.95, true);
    sceneRoot.add(links);
    var flowLines = lineObject(opts.maxFlowSegments || 8000, 0xffffff, 0.35, true);
    sceneRoot.add(flowLines);
    var flowDots = pointObject(opts.maxFlows || 4000, 6, 0, true);
    sceneRoot.add(flowDots);

    var islPairs = new Uint32Array(0);
    var frames = 0;
    var fps = 0;
    var fpsT0 = performance.now();
    var fpsN = 0;

    function staticLines(arr, colour, opacity) {
      var geom = new THREE.BufferGeometry();
      geom.setAttribute("position", new THREE.BufferAttribute(new Float32Array(arr), 3));
      return new THREE.LineSegments(
        geom,
        new THREE.LineBasicMaterial({ color: colour, transparent: opacity < 1, opacity: opacity })
      );
    }

    // Scene position of node `v` (satellite or ground) into out[at..at+3]; false if unknown.
    function nodePos(v, out, at) {
      if (v < n) {
        if (!satOk[v]) return false;
        out[at] = satPos[3 * v];
        out[at + 1] = satPos[3 * v + 1];
        out[at + 2] = satPos[3 * v + 2];
        return true;
      }
      var g = v - n;
      if (g >= ground.length) return false;
      out[at] = groundPos[3 * g];
      out[at + 1] = groundPos[3 * g + 1];
      out[at + 2] = groundPos[3 * g + 2];
      return true;
    }

    function rebuildIsls() {
      var arr = isls.geometry.attributes.position.array;
      var max = arr.length / 6;
      var k = 0;
      for (var j = 0; j + 1 < islPairs.length && k < max; j += 2) {
        if (nodePos(islPairs[j], arr, 6 * k) && nodePos(islPairs[j + 1], arr, 6 * k + 3)) k++;
      }
      isls.geometry.setDrawRange(0, 2 * k);
      isls.geometry.attributes.position.needsUpdate = true;
    }

    var api = {
      // ecef: Float32Array/Array of 3n km; NaN where a satellite has no position.
      setSatellites: function (ecef) {
        var arr = sats.geometry.attributes.position.array;
        for (var i = 0; i < n; i++) {
          var x = ecef[3 * i];
          var ok = isFinite(x) && isFinite(ecef[3 * i + 1]) && isFinite(ecef[3 * i + 2]);
          satOk[i] = ok ? 1 : 0;
          if (ok) {
            scene(x, ecef[3 * i + 1], ecef[3 * i + 2], satPos, 3 * i);
          } else {
            satPos[3 * i] = satPos[3 * i + 1] = satPos[3 * i + 2] = 0; // inside the Earth
          }
        }
        arr.set(satPos.subarray(0, 3 * n));
        sats.geometry.setDrawRange(0, n);
        sats.geometry.attributes.position.needsUpdate = true;
        rebuildIsls();
        if (api.selected !== null && api.selected < n) {
          selected.geometry.attributes.position.array.set(satPos.subarray(3 * api.selected, 3 * api.selected + 3));
          selected.geometry.attributes.position.needsUpdate = true;
          selected.geometry.setDrawRange(0, 1);
          selected.visible = !!satOk[api.selected];
        }
      },
      // Satellite colours, 3n floats 0..1 (node states in the console).
      setSatelliteColours: function (rgb) {
        satCol.set(rgb.subarray ? rgb.subarray(0, 3 * n) : rgb.slice(0, 3 * n));
        sats.geometry.attributes.color.needsUpdate = true;
      },
      // pairs: flat [a0, b0, a1, b1, ...] of satellite indices.
      setIsls: function (pairs) {
        islPairs = pairs instanceof Uint32Array ? pairs : Uint32Array.from(pairs);
        rebuildIsls();
      },
      // list: flat [a, b, utilisation, ...] of node indices; colour by utilisation.
      setLinks: function (list) {
        var pos = links.geometry.attributes.position.array;
        var col = links.geometry.attributes.color.array;
        var max = pos.length / 6;
        var k = 0;
        for (var j = 0; j + 2 < list.length && k < max; j += 3) {
          if (nodePos(list[j], pos, 6 * k) && nodePos(list[j + 1], pos, 6 * k + 3)) {
            loadColour(list[j + 2], col, 6 * k);
            col.copyWithin(6 * k + 3, 6 * k, 6 * k + 3);
            k++;
          }
        }
        links.geometry.setDrawRange(0, 2 * k);
        links.geometry.attributes.position.needsUpdate = true;
        links.geometry.attributes.color.needsUpdate = true;
        return k;
      },
      // flows: [{path: [node...], frac: 0..1, kind: index}]; a dot at frac along the path.
      setFlows: function (flows) {
        var lp = flowLines.geometry.attributes.position.array;
        var lc = flowLines.geometry.attributes.color.array;
        var dp = flowDots.geometry.attributes.position.array;
        var dc = flowDots.geometry.attributes.color.array;
        var maxSeg = lp.length / 6;
        var maxDots = dp.length / 3;
        var s = 0;
        var d = 0;
        var a = new Float32Array(3);
        var b = new Float32Array(3);
        flows.forEach(function (f) {
          var c = hex(KIND_COLOURS[f.kind % KIND_COLOURS.length]);
          var segs = f.path.length - 1;
          if (segs < 1) {
            if (d < maxDots && nodePos(f.path[0], dp, 3 * d)) dc.set(c, 3 * d++);
            return;
          }
          var at = Math.min(segs - 1e-9, Math.max(0, f.frac) * segs);
          for (var j = 0; j < segs; j++) {
            if (!nodePos(f.path[j], a, 0) || !nodePos(f.path[j + 1], b, 0)) continue;
            if (s < maxSeg) {
              lp.set(a, 6 * s);
              lp.set(b, 6 * s + 3);
              lc.set(c, 6 * s);
              lc.set(c, 6 * s + 3);
              s++;
            }
            if (j === Math.floor(at) && d < maxDots) {
              var u = at - j;
              dp[3 * d] = a[0] + u * (b[0] - a[0]);
              dp[3 * d + 1] = a[1] + u * (b[1] - a[1]);
              dp[3 * d + 2] = a[2] + u * (b[2] - a[2]);
              dc.set(c, 3 * d++);
            }
          }
        });
        flowLines.geometry.setDrawRange(0, 2 * s);
        flowDots.geometry.setDrawRange(0, d);
        flowLines.geometry.attributes.position.needsUpdate = true;
        flowLines.geometry.attributes.color.needsUpdate = true;
        flowDots.geometry.attributes.position.needsUpdate = true;
        flowDots.geometry.attributes.color.needsUpdate = true;
        return d;
      },
      // rings: [[lon, lat, lon, lat, ...], ...]
      setLand: function (rings) {
        sceneRoot.remove(landObj);
        landObj = ringLines(rings, 0x5f9e7a, 2);
        sceneRoot.add(landObj);
      },
      select: function (i) {
        api.selected = i;
        if (i === null || i >= n) {
          selected.visible = false;
          return;
        }
        selected.geometry.attributes.position.array.set(satPos.subarray(3 * i, 3 * i + 3));
        selected.geometry.attributes.position.needsUpdate = true;
        selected.geometry.setDrawRange(0, 1);
        selected.visible = !!satOk[i];
      },
      selected: null,
      // Satellites in the drawn geometry with a position above the Earth's surface.
      satellitesDrawn: function () {
        var count = sats.geometry.drawRange.count;
        var arr = sats.geometry.attributes.position.array;
        var k = 0;
        for (var i = 0; i < Math.min(count, n); i++) {
          var r = Math.hypot(arr[3 * i], arr[3 * i + 1], arr[3 * i + 2]);
          if (r > 1.0) k++;
        }
        return k;
      },
      // Canvas pixel coordinates of each satellite, null where hidden behind the Earth.
      screenPositions: function () {
        var out = [];
        var v = new THREE.Vector3();
        var c = camera.position;
        for (var i = 0; i < n; i++) {
          if (!satOk[i]) {
            out.push(null);
            continue;
          }
          v.set(satPos[3 * i], satPos[3 * i + 1], satPos[3 * i + 2]);
          if (!visible(c, v)) {
            out.push(null);
            continue;
          }
          v.project(camera);
          out.push([((v.x + 1) / 2) * canvas.width, ((1 - v.y) / 2) * canvas.height]);
        }
        return out;
      },
      frames: function () {
        return frames;
      },
      fps: function () {
        return fps;
      },
      render: render,
      onPick: null,
    };

    // Is p seen from c, not hidden by the unit sphere?
    function visible(c, p) {
      var dx = p.x - c.x, dy = p.y - c.y, dz = p.z - c.z;
      var L = Math.hypot(dx, dy, dz);
      dx /= L; dy /= L; dz /= L;
      var b = c.x * dx + c.y * dy + c.z * dz;
      var disc = b * b - (c.x * c.x + c.y * c.y + c.z * c.z - 1);
      if (disc < 0) return true;
      var t0 = -b - Math.sqrt(disc);
      return t0 < 0 || t0 > L;
    }

    function place() {
      var la = (view.lat * Math.PI) / 180;
      var lo = (view.lon * Math.PI) / 180;
      camera.position.set(
        view.dist * Math.cos(la) * Math.cos(lo),
        view.dist * Math.sin(la),
        -view.dist * Math.cos(la) * Math.sin(lo)
      );
      camera.lookAt(0, 0, 0);
    }

    var sized = [0, 0];
    function resize() {
      var w = canvas.clientWidth || 800;
      var h = canvas.clientHeight || 500;
      if (sized[0] !== w || sized[1] !== h) {
        sized = [w, h];
        renderer.setSize(w, h, false);
        camera.aspect = w / h;
        camera.updateProjectionMatrix();
      }
    }

    function render() {
      resize();
      place();
      renderer.render(sceneRoot, camera);
      frames++;
      fpsN++;
      var now = performance.now();
      if (now - fpsT0 >= 1000) {
        fps = (fpsN * 1000) / (now - fpsT0);
        fpsN = 0;
        fpsT0 = now;
      }
    }

    // Drag to turn, wheel to zoom, click to pick a satellite.
    var drag = null;
    canvas.addEventListener("pointerdown", function (e) {
      drag = { x: e.clientX, y: e.clientY, lon: view.lon, lat: view.lat, moved: false };
      canvas.setPointerCapture(e.pointerId);
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!drag) return;
      var dx = e.clientX - drag.x;
      var dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      view.lon = drag.lon - dx * 0.25 * (view.dist / 4);
      view.lat = Math.max(-85, Math.min(85, drag.lat + dy * 0.25 * (view.dist / 4)));
    });
    canvas.addEventListener("pointerup", function (e) {
      var was = drag;
      drag = null;
      if (!was || was.moved) return;
      var rect = canvas.getBoundingClientRect();
      var x = ((e.clientX - rect.left) * canvas.width) / rect.width;
      var y = ((e.clientY - rect.top) * canvas.height) / rect.height;
      var best = null;
      var bestD = 10 * 10;
      api.screenPositions().forEach(function (s, i) {
        if (!s) return;
        var d2 = (s[0] - x) * (s[0] - x) + (s[1] - y) * (s[1] - y);
        if (d2 < bestD) {
          bestD = d2;
          best = i;
        }
      });
      api.select(best);
      if (api.onPick) api.onPick(best);
    });
    canvas.addEventListener(
      "wheel",
      function (e) {
        e.preventDefault();
        view.dist = Math.max(1.3, Math.min(12, view.dist * Math.exp(e.deltaY * 0.001)));
      },
      { passive: false }
    );
    api.view = view;
    api.geodetic = geodetic;
    return api;
  }

  window.TiandiGlobe = { create: create, geodetic: geodetic, kindColours: KIND_COLOURS, loadColour: loadColour };
})();
