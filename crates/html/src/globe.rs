//! The report's 3D globe: the run's satellites sampled from the scenario, its loaded links,
//! a sample of its tasks and each satellite's state, packed into one JSON block that the
//! vendored three.js and `tiandi-web`'s scripts animate in the page.
//!
//! Decimation: positions are sampled every [`GlobeData::sample_s`] (60 s, or longer so that
//! satellites x samples stay within [`MAX_POSITION_SAMPLES`]) in a frame that turns with the
//! Earth at the run's start, quantised to 16 bits of each satellite's largest coordinate
//! (its own scale in `pos_scales_km`, so a far-out satellite does not coarsen the rest); the
//! page slerps between samples (exact for a circular orbit) and turns the result back into ECEF by the
//! Earth's rotation since the start. [`interpolate`] is that formula, tested against SGP4.
//! Links keep each sample's busiest [`MAX_LINKS_PER_SAMPLE`] (the highest utilisation over
//! its steps; fewer where all samples together would pass [`MAX_LINK_ENTRIES`]), tasks every
//! k-th of those placed (at most [`MAX_FLOWS`]), node series at most [`MAX_SERIES_POINTS`]
//! points per satellite.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use tiandi_orbit::Frame;
use tiandi_workload::Destination;

use crate::geo::{self, Geography};
use crate::load::{Output, PolicyData};
use crate::page::escape;

/// Satellites x position samples kept in the page (8 bytes of base64 each).
pub const MAX_POSITION_SAMPLES: usize = 400_000;
/// Loaded links kept per position sample.
pub const MAX_LINKS_PER_SAMPLE: usize = 3_000;
/// Loaded links over all samples: the per-sample cap falls until the sum fits (5 B a link).
pub const MAX_LINK_ENTRIES: usize = 400_000;
/// Tasks drawn as flows.
pub const MAX_FLOWS: usize = 3_000;
/// Points of each satellite's state series.
pub const MAX_SERIES_POINTS: usize = 150;
/// Shortest position sample, s.
pub const MIN_SAMPLE_S: f64 = 60.0;
/// The Earth's rotation rate, rad/s (IERS Conventions 2010, table 1.1).
pub const OMEGA_EARTH: f64 = 7.292_115_0e-5;

/// What the data block holds, for the tests and the section's caption.
#[derive(Clone, Debug, PartialEq)]
pub struct GlobeData {
    pub json: String,
    pub n_satellites: usize,
    pub sample_s: f64,
    pub n_samples: usize,
    pub n_flows: usize,
    pub flow_stride: usize,
    pub n_link_samples: usize,
}

/// Rotation about z by `angle` rad.
fn rot_z(v: [f64; 3], angle: f64) -> [f64; 3] {
    let (s, c) = angle.sin_cos();
    [c * v[0] - s * v[1], s * v[0] + c * v[1], v[2]]
}

/// The page's interpolation, in Rust for its test: samples `a` and `b` (km, in the frame
/// turning with the Earth's start) at fraction `f` between them, turned into ECEF at `t_s`.
pub fn interpolate(a: [f64; 3], b: [f64; 3], f: f64, t_s: f64) -> [f64; 3] {
    let norm = |v: [f64; 3]| (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    let (ra, rb) = (norm(a), norm(b));
    let cos_t = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) / (ra * rb);
    let th = cos_t.clamp(-1.0, 1.0).acos();
    let (wa, wb) = if th < 1e-9 {
        (1.0 - f, f)
    } else {
        (((1.0 - f) * th).sin() / th.sin(), (f * th).sin() / th.sin())
    };
    let r = ra + f * (rb - ra);
    let p = [0, 1, 2].map(|k| r * (wa * a[k] / ra + wb * b[k] / rb));
    rot_z(p, -OMEGA_EARTH * t_s)
}

fn b64<T: Copy, const N: usize>(v: &[T], to: impl Fn(T) -> [u8; N]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|&x| to(x)).collect();
    B64.encode(bytes)
}

/// JSON for a `<script type="application/json">`: no `<` can end the element.
fn script_json(v: &Value) -> String {
    v.to_string().replace('<', "\\u003c")
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The largest per-sample cap, at most `per_sample`, under which the samples' links (`lens`)
/// sum to at most `total`.
fn link_cap(lens: &[usize], per_sample: usize, total: usize) -> usize {
    let sum = |c: usize| lens.iter().map(|&l| l.min(c)).sum::<usize>();
    let (mut lo, mut hi) = (0, per_sample);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if sum(mid) <= total {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// The data block of the globe for the featured run `run` of `out`.
pub fn globe_data(out: &Output, g: &Geography, run: &PolicyData) -> GlobeData {
    let sats = g.satellites();
    let n = sats.len();
    // Never past the scenario's own end: `summary.json` is not covered by its hash, and an
    // edited `end_utc` must not make the page regenerate years of positions and tasks.
    let end = out.end.min(g.scenario.end());
    let duration = end.seconds_since(out.start);
    let duration = if duration.is_finite() {
        duration.clamp(0.0, tiandi_scenario::convert::MAX_HORIZON_H * 3_600.0)
    } else {
        0.0
    };
    let mut sample_s = MIN_SAMPLE_S;
    let per_sat = MAX_POSITION_SAMPLES / n.max(1);
    sample_s = sample_s.max((duration / per_sat.max(2) as f64).ceil());
    let n_samples = (duration / sample_s).ceil() as usize + 1;

    // Positions in the frame turning with the Earth at the start; NaN where SGP4 fails.
    let mut raw = vec![[f64::NAN; 3]; n_samples * n];
    // Each satellite's largest coordinate: its own 16-bit scale, so one far-out satellite
    // (GEO, HEO) does not coarsen the LEO ones.
    let mut r_max = vec![1.0_f64; n];
    for k in 0..n_samples {
        let t_s = (k as f64 * sample_s).min(duration);
        let t = out.start.add_s_f64(t_s);
        for (i, s) in sats.iter().enumerate() {
            if let Ok(st) = s.state_at(t, Frame::Itrf) {
                let p = st.position_km;
                let v = rot_z([p.x, p.y, p.z], OMEGA_EARTH * t_s);
                if v.iter().all(|c| c.is_finite()) {
                    r_max[i] = r_max[i].max(v.iter().map(|c| c.abs()).fold(0.0, f64::max));
                    raw[k * n + i] = v;
                }
            }
        }
    }
    let scales: Vec<f64> = r_max.iter().map(|r| r / 32_767.0).collect();
    let mut pos: Vec<i16> = Vec::with_capacity(raw.len() * 3);
    for (j, v) in raw.iter().enumerate() {
        if v.iter().all(|c| c.is_finite()) {
            let scale = scales[j % n.max(1)];
            pos.extend(
                v.iter()
                    .map(|c| (c / scale).round().clamp(-32_767.0, 32_767.0) as i16),
            );
        } else {
            pos.extend([i16::MIN; 3]);
        }
    }

    // Ground nodes, in the order of the scenario's node labels after the satellites.
    let mut ground: Vec<Value> = Vec::new();
    for p in g.stations() {
        ground.push(json!({"name": p.name, "kind": "station", "lat": p.lat, "lon": p.lon}));
    }
    for p in g.data_centres() {
        ground.push(json!({"name": p.name, "kind": "dc", "lat": p.lat, "lon": p.lon}));
    }
    let regions = g.regions();
    let mut region_rings = Vec::new();
    for (p, ring) in &regions {
        ground.push(json!({"name": p.name, "kind": "region", "lat": p.lat, "lon": p.lon}));
        let mut flat: Vec<f64> = ring
            .iter()
            .flat_map(|&(lo, la)| [round1(lo), round1(la)])
            .collect();
        if let Some(&(lo, la)) = ring.first() {
            flat.extend([round1(lo), round1(la)]);
        }
        region_rings.push(flat);
    }
    let land: Vec<Vec<f64>> = geo::land()
        .0
        .iter()
        .map(|r| {
            r.iter()
                .flat_map(|&(lo, la)| [round1(lo), round1(la)])
                .collect()
        })
        .collect();
    let n_nodes = n + ground.len();

    // The ISL web at the start (satellite pairs only).
    let isl: Vec<u32> = g
        .topology(out.start)
        .unwrap_or_default()
        .into_iter()
        .filter(|&(a, b)| (a as usize) < n && (b as usize) < n)
        .flat_map(|(a, b)| [a, b])
        .collect();

    // Loaded links: per position sample, the highest utilisation of each pair over its steps.
    let step_s = out.summary.step_s.max(1e-9);
    let mut per_sample: Vec<HashMap<(u32, u32), f64>> = vec![HashMap::new(); n_samples];
    if let Ok(links) = &run.files.links {
        for l in links.iter().filter(|l| l.bytes > 0) {
            if l.a as usize >= n_nodes || l.b as usize >= n_nodes || n_nodes > usize::from(u16::MAX)
            {
                continue;
            }
            let k = ((f64::from(l.step) * step_s) / sample_s) as usize;
            if let Some(m) = per_sample.get_mut(k) {
                let e = m.entry((l.a.min(l.b), l.a.max(l.b))).or_insert(0.0);
                *e = e.max(l.utilisation);
            }
        }
    }
    let cap = link_cap(
        &per_sample.iter().map(HashMap::len).collect::<Vec<_>>(),
        MAX_LINKS_PER_SAMPLE,
        MAX_LINK_ENTRIES,
    );
    let (mut offsets, mut la, mut lb, mut lu) = (vec![0u32], Vec::new(), Vec::new(), Vec::new());
    let mut max_per_sample = 1;
    for m in &per_sample {
        let mut v: Vec<((u32, u32), f64)> = m.iter().map(|(k, u)| (*k, *u)).collect();
        v.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        v.truncate(cap);
        max_per_sample = max_per_sample.max(v.len());
        for ((a, b), u) in v {
            la.push(a as u16);
            lb.push(b as u16);
            lu.push((u.clamp(0.0, 1.0) * 255.0).round() as u8);
        }
        offsets.push(la.len() as u32);
    }
    let n_link_samples = la.len();

    // Flows: every k-th placed task, origin -> the nodes of its stages -> its destination.
    let tasks = tiandi_scenario::generate::tasks(&g.scenario, end).unwrap_or_default();
    let by_id: HashMap<u64, &tiandi_workload::Task> = tasks.iter().map(|t| (t.id, t)).collect();
    let mut kinds: BTreeMap<String, u8> = BTreeMap::new();
    let placed: Vec<_> = match &run.files.tasks {
        Ok(rows) => rows.iter().filter(|r| !r.placement.is_empty()).collect(),
        Err(_) => Vec::new(),
    };
    let stride = placed.len().div_ceil(MAX_FLOWS).max(1);
    let (mut fa, mut ff, mut fk, mut fo, mut fnodes) =
        (Vec::new(), Vec::new(), Vec::new(), vec![0u32], Vec::new());
    for r in placed.iter().step_by(stride) {
        let mut path: Vec<u32> = Vec::new();
        let task = by_id.get(&r.id);
        if let Some(t) = task {
            path.push(t.origin);
        }
        for &p in &r.placement {
            if path.last() != Some(&p) {
                path.push(p);
            }
        }
        match task.map(|t| t.destination) {
            Some(Destination::Node(d)) if path.last() != Some(&d) => path.push(d),
            Some(Destination::Origin) => {
                let o = path[0];
                if path.last() != Some(&o) {
                    path.push(o)
                }
            }
            _ => {}
        }
        if path.iter().any(|&v| v as usize >= n_nodes) || n_nodes > usize::from(u16::MAX) {
            continue;
        }
        let next = kinds.len() as u8;
        let kind = *kinds.entry(r.kind.as_str().to_string()).or_insert(next);
        fa.push(out.since_start_s(r.arrival) as f32);
        ff.push(out.since_start_s(r.finish) as f32);
        fk.push(kind);
        fnodes.extend(path.iter().map(|&v| v as u16));
        fo.push(fnodes.len() as u32);
    }
    let mut kind_names = vec![String::new(); kinds.len()];
    for (name, i) in &kinds {
        kind_names[usize::from(*i)] = name.clone();
    }
    let n_flows = fa.len();

    // Each satellite's battery, temperature and compute power.
    let series = match &run.files.nodes {
        Ok(nodes) if !nodes.is_empty() && n > 0 => {
            let steps = nodes.iter().map(|s| s.step).max().unwrap_or(0) as usize + 1;
            let every = steps.div_ceil(MAX_SERIES_POINTS).max(1);
            let m = steps.div_ceil(every);
            let (mut soc, mut temp, mut comp) =
                (vec![0i16; n * m], vec![0i16; n * m], vec![0i16; n * m]);
            for s in nodes {
                let (i, st) = (s.satellite as usize, s.step as usize);
                if i >= n || st % every != 0 {
                    continue;
                }
                let j = i * m + st / every;
                soc[j] = (f64::from(s.soc_fraction) * 10_000.0)
                    .round()
                    .clamp(0.0, 10_000.0) as i16;
                temp[j] = (f64::from(s.temp_k) * 10.0).round().clamp(0.0, 32_767.0) as i16;
                comp[j] = f64::from(s.compute_w).round().clamp(0.0, 32_767.0) as i16;
            }
            let t_s: Vec<f64> = (0..m)
                .map(|q| round1((q * every) as f64 * out.summary.step_s))
                .collect();
            json!({
                "n_points": m,
                "every_s": every as f64 * out.summary.step_s,
                "t_s": t_s,
                "soc": b64(&soc, i16::to_le_bytes),
                "temp": b64(&temp, i16::to_le_bytes),
                "compute": b64(&comp, i16::to_le_bytes),
            })
        }
        _ => Value::Null,
    };

    // Where to look first: the mean of the ground segment.
    let (vlat, vlon) = match ground.len() {
        0 => (20.0, 110.0),
        k => {
            let lat: f64 = ground.iter().filter_map(|g| g["lat"].as_f64()).sum::<f64>() / k as f64;
            let (x, y) =
                ground
                    .iter()
                    .filter_map(|g| g["lon"].as_f64())
                    .fold((0.0, 0.0), |acc, lon| {
                        (
                            acc.0 + lon.to_radians().cos(),
                            acc.1 + lon.to_radians().sin(),
                        )
                    });
            (lat, y.atan2(x).to_degrees())
        }
    };
    let names: Vec<&str> = g.labels.iter().take(n).map(String::as_str).collect();
    let v = json!({
        "policy": run.figures.policy,
        "start_ms": out.start.unix_ns() / 1_000_000,
        "duration_s": duration,
        "sample_s": sample_s,
        "n_samples": n_samples,
        "n_satellites": n,
        "names": names,
        "ground": ground,
        "land": land,
        "region_rings": region_rings,
        "pos_scales_km": scales,
        "pos": b64(&pos, i16::to_le_bytes),
        "isl_pairs": isl.len() / 2,
        "isl": b64(&isl, u32::to_le_bytes),
        "links": {
            "max_per_sample": max_per_sample,
            "offsets": b64(&offsets, u32::to_le_bytes),
            "a": b64(&la, u16::to_le_bytes),
            "b": b64(&lb, u16::to_le_bytes),
            "util": B64.encode(&lu),
        },
        "flows": {
            "kinds": kind_names,
            "stride": stride,
            "arrival_s": b64(&fa, f32::to_le_bytes),
            "finish_s": b64(&ff, f32::to_le_bytes),
            "kind": B64.encode(&fk),
            "offsets": b64(&fo, u32::to_le_bytes),
            "nodes": b64(&fnodes, u16::to_le_bytes),
        },
        "series": series,
        "view_lat": round1(vlat.clamp(-60.0, 60.0)),
        "view_lon": round1(vlon),
    });
    GlobeData {
        json: script_json(&v),
        n_satellites: n,
        sample_s,
        n_samples,
        n_flows,
        flow_stride: stride,
        n_link_samples,
    }
}

/// The globe's section body: canvas, controls, legend, the data and the scripts.
pub fn globe_html(d: &GlobeData) -> String {
    let kinds_note = if d.flow_stride > 1 {
        format!("every {}th placed task", d.flow_stride)
    } else {
        "every placed task".to_string()
    };
    format!(
        "<style>{css}</style>\n<div class=\"globe\">\n<canvas id=\"globe-canvas\" width=\"960\" height=\"560\" aria-label=\"3D globe of the network\"></canvas>\n<div class=\"globe-side\">\n<p id=\"globe-info\">Click a satellite to see its power, thermal and compute state over the run.</p>\n<canvas id=\"globe-chart\" width=\"380\" height=\"300\" aria-label=\"state of the picked satellite\"></canvas>\n</div>\n</div>\n<div class=\"globe-controls\">\n<button id=\"globe-play\" type=\"button\">Play</button>\n<input id=\"globe-time\" type=\"range\" min=\"0\" max=\"1\" step=\"1\" value=\"0\" aria-label=\"time since the start, s\">\n<label>speed <select id=\"globe-speed\"><option value=\"10\">10x</option><option value=\"60\" selected>60x</option><option value=\"300\">300x</option><option value=\"1200\">1200x</option></select></label>\n<span id=\"globe-clock\"></span>\n</div>\n<p id=\"globe-note\" class=\"note\">The globe needs JavaScript and WebGL; the maps below show the same network.</p>\n<p class=\"note\">{n} satellites, positions every {s:.0} s ({ns} samples, slerped between), the busiest links of each sample coloured blue (idle) to red (full), {kinds_note} ({nf} drawn) moving from where its data starts through the nodes that ran it to where its result goes; stations orange, data centres green, user regions violet. Drag to turn, wheel to zoom.</p>\n<script type=\"application/json\" id=\"globe-data\">{json}</script>\n<script>{three}</script>\n<script>{globe}</script>\n<script>{report}</script>",
        css = tiandi_web::GLOBE_CSS,
        n = d.n_satellites,
        s = d.sample_s,
        ns = d.n_samples,
        nf = d.n_flows,
        kinds_note = escape(&kinds_note),
        json = d.json,
        three = tiandi_web::THREE_JS,
        globe = tiandi_web::GLOBE_JS,
        report = tiandi_web::REPORT_GLOBE_JS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiandi_orbit::Epoch;

    /// Named tolerance: the page's slerp between 60 s samples against SGP4 at the middle,
    /// where the error is largest, for the default scenario's 550 km orbits.
    const SLERP_TOLERANCE_KM: f64 = 0.05;

    /// A satellite's ITRF position `t_s` after `t0`, km.
    fn itrf_km(s: &tiandi_orbit::Satellite, t0: Epoch, t_s: f64) -> [f64; 3] {
        let p = s
            .state_at(t0.add_s_f64(t_s), Frame::Itrf)
            .unwrap()
            .position_km;
        [p.x, p.y, p.z]
    }

    #[test]
    fn link_cap_fills_the_total_from_the_smallest_samples_up() {
        // Under the total, every sample keeps its links up to the per-sample cap.
        assert_eq!(link_cap(&[10, 20, 5], 3_000, 100), 3_000);
        // 10 + 20 + 5 = 35 > 30: a cap of 12 gives 10 + 12 + 5 = 27, 13 gives 28, ... 15 gives 30.
        assert_eq!(link_cap(&[10, 20, 5], 3_000, 30), 15);
        assert_eq!(link_cap(&[10, 20, 5], 3_000, 29), 14);
        assert_eq!(link_cap(&[], 3_000, 0), 3_000);
        assert_eq!(link_cap(&[7], 3_000, 0), 0);
    }

    #[test]
    fn slerp_between_samples_follows_sgp4() {
        let sats = tiandi_scenario::default_constellation().unwrap();
        let t0 = Epoch::parse_iso("2026-11-24T00:00:00Z").unwrap();
        let mut worst: f64 = 0.0;
        for s in sats.iter().step_by(17) {
            for k in 0..30 {
                let (ta, tb) = (k as f64 * 60.0, (k + 1) as f64 * 60.0);
                let at = |t_s: f64| itrf_km(s, t0, t_s);
                let a = rot_z(at(ta), OMEGA_EARTH * ta);
                let b = rot_z(at(tb), OMEGA_EARTH * tb);
                let tm = ta + 30.0;
                let got = interpolate(a, b, 0.5, tm);
                let want = at(tm);
                let d = (0..3)
                    .map(|i| (got[i] - want[i]).powi(2))
                    .sum::<f64>()
                    .sqrt();
                worst = worst.max(d);
            }
        }
        eprintln!("worst mid-sample slerp error {worst:.4} km");
        assert!(
            worst < SLERP_TOLERANCE_KM,
            "worst mid-sample error {worst} km"
        );
        // A straight line between the samples in ECEF would miss by far more: the test
        // can tell the slerp from no interpolation at all.
        let s = &sats[0];
        let at = |t_s: f64| itrf_km(s, t0, t_s);
        let (a, b, m) = (at(0.0), at(60.0), at(30.0));
        let chord = (0..3)
            .map(|i| ((a[i] + b[i]) / 2.0 - m[i]).powi(2))
            .sum::<f64>()
            .sqrt();
        eprintln!("chord error {chord:.3} km");
        assert!(
            chord > 20.0 * SLERP_TOLERANCE_KM,
            "chord error only {chord} km"
        );
    }

    #[test]
    fn data_json_cannot_end_its_script_element() {
        let v = json!({"name": "</script><script>alert(1)</script>"});
        let s = script_json(&v);
        assert!(!s.contains('<'));
        let back: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
    }
}
