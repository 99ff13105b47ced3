//! `tiandi routes --hypatia-out DIR`: the routed network as Hypatia's satellite-network
//! state (satgenpy's file formats: `tles.txt`, `isls.txt`, `ground_stations.txt`,
//! `gsl_interfaces_info.txt`, `description.txt` and the per-step forwarding state
//! `dynamic_state_<ms>ms_for_<s>s/fstate_<t_ns>.txt`), so Hypatia's ns-3 simulator and
//! analysis tools can run on tiandi's routes. Formats: docs/network.md.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use tiandi_network::{ForwardingTable, IslPattern, Network, RouteTable, RoutingMode, Snapshot};
use tiandi_orbit::{Satellite, format_tle};

/// One forwarding decision: next hop, outgoing interface, the next hop's incoming
/// interface; `[-1, -1, -1]` when the destination cannot be reached.
type Decision = [i64; 3];
const DROP: Decision = [-1, -1, -1];

/// Hypatia's unitless aggregate bandwidth of a GSL interface, as its own generator writes
/// it (`generate_simple_gsl_interfaces_info` with 1 for satellites and stations).
const GSL_IF_BANDWIDTH: f64 = 1.0;

/// Writes the static files once and one forwarding-state file per routed step.
pub struct HypatiaWriter {
    dir: PathBuf,
    state_dir: PathBuf,
    n_sats: u32,
    n_stations: u32,
    /// Per satellite: (ISL neighbour, this satellite's interface to it), from `isls.txt`.
    isl_ifs: Vec<Vec<(u32, u32)>>,
    forwarding: ForwardingTable,
    /// Last decisions written, in file order (satellite rows, then station rows).
    previous: Vec<Decision>,
    current: Vec<Decision>,
    written_any: bool,
    /// Longest GSL seen, m (for description.txt without a range rule).
    longest_gsl_m: f64,
}

impl HypatiaWriter {
    /// Creates `dir` and its dynamic-state folder and writes the static files.
    pub fn create(
        dir: &Path,
        net: &Network,
        sats: &[Satellite],
        step_ms: u64,
        duration_s: f64,
    ) -> Result<Self> {
        let isls: &[(u32, u32)] = match net.config().isl.pattern {
            IslPattern::PlusGrid { .. } => net.plus_grid_pairs(),
            IslPattern::None => &[],
            IslPattern::NearestK { .. } => bail!(
                "--hypatia-out: Hypatia's ISLs are fixed for the whole run (isls.txt); use \
                 --isl plus-grid or none, not nearest-k"
            ),
        };
        if net.n_nodes() != net.first_data_centre() {
            bail!("--hypatia-out: only satellites and ground stations can be written");
        }
        let duration = if duration_s.fract() == 0.0 {
            format!("{}", duration_s as i64)
        } else {
            format!("{duration_s}")
        };
        let state_dir = dir.join(format!("dynamic_state_{step_ms}ms_for_{duration}s"));
        std::fs::create_dir_all(&state_dir)
            .with_context(|| format!("cannot create {}", state_dir.display()))?;
        let n_sats = net.n_satellites() as u32;
        let n_stations = net.n_stations() as u32;
        let mut isl_ifs = vec![Vec::new(); n_sats as usize];
        for &(a, b) in isls {
            let next_if = |v: u32, ifs: &[Vec<(u32, u32)>]| ifs[v as usize].len() as u32;
            let (ia, ib) = (next_if(a, &isl_ifs), next_if(b, &isl_ifs));
            isl_ifs[a as usize].push((b, ia));
            isl_ifs[b as usize].push((a, ib));
        }
        let stations: Vec<u32> = net.station_ids().map(|id| id.0).collect();
        let n_rows = (n_sats * n_stations + n_stations * n_stations.saturating_sub(1)) as usize;
        let w = HypatiaWriter {
            dir: dir.to_path_buf(),
            state_dir,
            n_sats,
            n_stations,
            isl_ifs,
            forwarding: ForwardingTable::new(&stations, net.n_nodes(), RoutingMode::SatellitesOnly),
            previous: vec![DROP; n_rows],
            current: vec![DROP; n_rows],
            written_any: false,
            longest_gsl_m: 0.0,
        };
        w.write_tles(net, sats)?;
        w.write_file("isls.txt", |out| {
            for (a, b) in isls {
                writeln!(out, "{a} {b}")?;
            }
            Ok(())
        })?;
        w.write_stations(net)?;
        w.write_file("gsl_interfaces_info.txt", |out| {
            for node in 0..n_sats + n_stations {
                writeln!(out, "{node},1,{GSL_IF_BANDWIDTH:.6}")?;
            }
            Ok(())
        })?;
        Ok(w)
    }

    fn write_file(
        &self,
        name: &str,
        body: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
    ) -> Result<()> {
        write_to(&self.dir.join(name), body)
    }

    /// `tles.txt`: "planes satellites-per-plane", then name line (first word of the name
    /// and the satellite id, as Hypatia's reader checks) and the two TLE lines.
    fn write_tles(&self, net: &Network, sats: &[Satellite]) -> Result<()> {
        let (planes, per_plane) = match net.layout() {
            Some(l) => (l.n_planes, l.sats_per_plane),
            None => (1, self.n_sats),
        };
        self.write_file("tles.txt", |out| {
            writeln!(out, "{planes} {per_plane}")?;
            for (sid, sat) in sats.iter().enumerate() {
                let mut e = sat.elements.clone();
                let word = e.name.split_whitespace().next().unwrap_or("").to_string();
                e.name = format!("{} {sid}", if word.is_empty() { "sat" } else { &word });
                out.write_all(format_tle(&e).as_bytes())?;
            }
            Ok(())
        })
    }

    /// `ground_stations.basic.txt` (id, name, latitude, longitude, elevation m) and the
    /// extended `ground_stations.txt` (plus ECEF x, y, z in m).
    fn write_stations(&self, net: &Network) -> Result<()> {
        let stations = &net.spec().stations;
        // Hypatia splits on commas: a comma in a name would shift every column.
        let name = |g: usize| stations[g].station.name.replace(',', ";");
        self.write_file("ground_stations.basic.txt", |out| {
            for (g, s) in stations.iter().enumerate() {
                let geo = &s.station.geodetic;
                writeln!(
                    out,
                    "{g},{},{},{},{}",
                    name(g),
                    geo.latitude_deg,
                    geo.longitude_deg,
                    geo.altitude_km * 1e3
                )?;
            }
            Ok(())
        })?;
        self.write_file("ground_stations.txt", |out| {
            for (g, s) in stations.iter().enumerate() {
                let (geo, p) = (&s.station.geodetic, s.station.ecef_km * 1e3);
                writeln!(
                    out,
                    "{g},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6}",
                    name(g),
                    geo.latitude_deg,
                    geo.longitude_deg,
                    geo.altitude_km * 1e3,
                    p.x,
                    p.y,
                    p.z
                )?;
            }
            Ok(())
        })
    }

    /// The interface of satellite `sat` toward its ISL neighbour `other`.
    fn isl_if(&self, sat: u32, other: u32) -> Result<i64> {
        match self.isl_ifs[sat as usize].iter().find(|(n, _)| *n == other) {
            Some(&(_, i)) => Ok(i as i64),
            None => bail!("--hypatia-out: ISL {sat}-{other} is not in isls.txt"),
        }
    }

    /// A satellite's single GSL interface comes after its ISL interfaces (Hypatia).
    fn gsl_if(&self, sat: u32) -> i64 {
        self.isl_ifs[sat as usize].len() as i64
    }

    /// Writes `fstate_<t_ns>.txt` (every entry the first time, then only the entries that
    /// changed, as Hypatia does) and `gsl_if_bandwidth_<t_ns>.txt` for one routed step.
    pub fn write_step(&mut self, t_ns: i64, snap: &Snapshot, table: &RouteTable) -> Result<()> {
        self.forwarding.compute(snap);
        let (n_sats, n_stations) = (self.n_sats, self.n_stations);
        for l in snap.links() {
            if l.a < n_sats && l.b >= n_sats {
                self.longest_gsl_m = self.longest_gsl_m.max(l.distance_km * 1e3);
            }
        }
        let mut row = 0;
        for curr in 0..n_sats {
            for d in 0..n_stations {
                let decision = match self.forwarding.next_hop(d as usize, curr) {
                    None => DROP,
                    Some(hop) if hop >= n_sats => [hop as i64, self.gsl_if(curr), 0],
                    Some(hop) => [hop as i64, self.isl_if(curr, hop)?, self.isl_if(hop, curr)?],
                };
                self.current[row] = decision;
                row += 1;
            }
        }
        // Station rows: the first satellite of the route `tiandi routes` prints.
        for r in table.pairs() {
            self.current[row] = match r.path.get(1) {
                None => DROP,
                Some(&sat) if sat < n_sats => [sat as i64, 0, self.gsl_if(sat)],
                Some(&other) => bail!(
                    "--hypatia-out: route {}-{} starts with ground node {other}; Hypatia's \
                     forwarding goes through satellites only",
                    r.src,
                    r.dst
                ),
            };
            row += 1;
        }
        assert_eq!(row, self.current.len(), "one decision per fstate row");
        let path = self.state_dir.join(format!("fstate_{t_ns}.txt"));
        let (current, previous, all) = (&self.current, &self.previous, !self.written_any);
        write_to(&path, |out| {
            let station = |g: u32| n_sats + g;
            let keys = (0..n_sats)
                .flat_map(|c| (0..n_stations).map(move |d| (c, station(d))))
                .chain((0..n_stations).flat_map(|s| {
                    (0..n_stations)
                        .filter(move |&d| d != s)
                        .map(move |d| (station(s), station(d)))
                }));
            for (((node, dst), now), before) in keys.zip(current).zip(previous) {
                if all || now != before {
                    writeln!(out, "{node},{dst},{},{},{}", now[0], now[1], now[2])?;
                }
            }
            Ok(())
        })?;
        // Hypatia's free-one model fixes the bandwidths at t = 0; later files are empty.
        let bandwidth = self.state_dir.join(format!("gsl_if_bandwidth_{t_ns}.txt"));
        let isl_counts: Vec<usize> = self.isl_ifs.iter().map(Vec::len).collect();
        write_to(&bandwidth, |out| {
            if all {
                for (node, n) in isl_counts.iter().enumerate() {
                    writeln!(out, "{node},{n},{GSL_IF_BANDWIDTH:.6}")?;
                }
                for g in 0..n_stations {
                    writeln!(out, "{},0,{GSL_IF_BANDWIDTH:.6}", n_sats + g)?;
                }
            }
            Ok(())
        })?;
        std::mem::swap(&mut self.current, &mut self.previous);
        self.written_any = true;
        Ok(())
    }

    /// Writes `description.txt`: the range rule (or, without one, the longest GSL of the
    /// written steps) and the longest ISL allowed, m.
    pub fn finish(self, net: &Network) -> Result<()> {
        let cfg = net.config();
        let gsl_m = cfg.gsl.max_range_km.map_or(self.longest_gsl_m, |r| r * 1e3);
        let isl_m = cfg.isl.max_range_km * 1e3;
        self.write_file("description.txt", |out| {
            writeln!(out, "max_gsl_length_m={gsl_m:.10}")?;
            writeln!(out, "max_isl_length_m={isl_m:.10}")
        })
    }
}

/// Creates `path` and writes it through a buffer, naming the file in errors.
fn write_to(
    path: &Path,
    body: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 16, file);
    body(&mut out)
        .and_then(|()| out.flush())
        .with_context(|| format!("cannot write {}", path.display()))
}
