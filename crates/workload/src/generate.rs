//! Seeded workload generators: Earth observation captures, blind-zone requests and ground
//! AI jobs. Each draws from its own random stream (see [`crate::rng`]); the merged list is
//! sorted by arrival and numbered, so the same inputs and seed give the same tasks.

use tiandi_orbit::Epoch;

use crate::rng::{Purpose, Stream};
use crate::task::{Destination, NodeIdx, Pin, Stage, Task, TaskKind};

/// Mean Earth radius for ground distances, km (IUGG mean radius R1).
const EARTH_MEAN_RADIUS_KM: f64 = 6_371.008_8;

/// Earth observation: what the imager produces and what analysing it costs.
#[derive(Clone, Debug, PartialEq)]
pub struct EoConfig {
    /// Imaged swath width, km.
    pub swath_km: f64,
    /// Raw data per imaged km^2, bytes (3 m GSD, 4 bands, 12 bit: ~0.67 MB/km^2).
    pub bytes_per_km2: f64,
    /// Analysis cost, FLOP per raw byte.
    pub flop_per_byte: f64,
    /// Result size as a fraction of the raw input.
    pub result_fraction: f64,
    /// Model and working memory of the analysis, bytes.
    pub memory_bytes: u64,
    /// Raw data is cut into tasks of at most this many bytes (scene tiles).
    pub tile_bytes: u64,
    /// Time from capture to the deadline, seconds.
    pub deadline_s: f64,
    /// Optical imaging: capture only while the satellite is sunlit.
    pub daylight_only: bool,
    /// Fraction of peak throughput the analysis achieves (see
    /// [`TaskKind::default_efficiency`]).
    pub efficiency: f64,
}

/// A named target region, a latitude/longitude box (longitudes in [-180, 180]; a box with
/// `lon_min > lon_max` crosses the antimeridian).
#[derive(Clone, Debug, PartialEq)]
pub struct TargetArea {
    pub name: String,
    pub lat_min_deg: f64,
    pub lat_max_deg: f64,
    pub lon_min_deg: f64,
    pub lon_max_deg: f64,
}

impl TargetArea {
    pub fn contains(&self, lat_deg: f64, lon_deg: f64) -> bool {
        let lon = (lon_deg + 180.0).rem_euclid(360.0) - 180.0;
        let in_lon = if self.lon_min_deg <= self.lon_max_deg {
            (self.lon_min_deg..=self.lon_max_deg).contains(&lon)
        } else {
            lon >= self.lon_min_deg || lon <= self.lon_max_deg
        };
        in_lon && (self.lat_min_deg..=self.lat_max_deg).contains(&lat_deg)
    }
}

/// One satellite's sub-satellite point at one grid time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackPoint {
    pub t: Epoch,
    pub latitude_deg: f64,
    pub longitude_deg: f64,
    pub sunlit: bool,
}

/// Great-circle distance between two sub-satellite points, km (haversine).
pub fn ground_distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lat2) = (a.0.to_radians(), b.0.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.1 - a.1).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_MEAN_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// Earth-observation tasks of one satellite from its ground track: every grid step whose
/// start lies over a target (and in daylight, for optical imaging) images
/// `swath x track length`; the raw data of each contiguous capture is cut into tiles, each
/// a task that arrives when its last byte is captured.
pub fn earth_observation_tasks(
    cfg: &EoConfig,
    satellite: NodeIdx,
    track: &[TrackPoint],
    areas: &[TargetArea],
) -> Vec<Task> {
    let mut tasks = Vec::new();
    let mut pending_bytes = 0.0;
    let flush = |tasks: &mut Vec<Task>, bytes: f64, at: Epoch| {
        if bytes < 1.0 {
            return;
        }
        let input_bytes = bytes.round() as u64;
        tasks.push(Task {
            id: 0,
            kind: TaskKind::EarthObservation,
            arrival: at,
            origin: satellite,
            destination: Destination::AnyGround,
            deadline: at.add_s_f64(cfg.deadline_s),
            stages: vec![Stage {
                work_flop: bytes * cfg.flop_per_byte,
                input_bytes,
                output_bytes: ((bytes * cfg.result_fraction).round() as u64).max(1),
                memory_bytes: cfg.memory_bytes,
                pin: Pin::Free,
                after: Vec::new(),
                efficiency: cfg.efficiency,
            }],
        });
    };
    for w in track.windows(2) {
        let (p, q) = (w[0], w[1]);
        let imaging = (!cfg.daylight_only || p.sunlit)
            && areas
                .iter()
                .any(|a| a.contains(p.latitude_deg, p.longitude_deg));
        if imaging {
            let track_km = ground_distance_km(
                (p.latitude_deg, p.longitude_deg),
                (q.latitude_deg, q.longitude_deg),
            );
            pending_bytes += track_km * cfg.swath_km * cfg.bytes_per_km2;
            // Cut full tiles as they fill.
            while pending_bytes >= cfg.tile_bytes as f64 {
                flush(&mut tasks, cfg.tile_bytes as f64, q.t);
                pending_bytes -= cfg.tile_bytes as f64;
            }
        } else if pending_bytes > 0.0 {
            flush(&mut tasks, pending_bytes, p.t);
            pending_bytes = 0.0;
        }
    }
    if let Some(last) = track.last() {
        flush(&mut tasks, pending_bytes, last.t);
    }
    tasks
}

/// Request/response traffic with Poisson arrivals: blind-zone users or ground AI jobs.
#[derive(Clone, Debug, PartialEq)]
pub struct PoissonConfig {
    /// Mean arrivals per second at each origin.
    pub rate_per_s: f64,
    /// Request (input) size, bytes: median of a log-normal.
    pub input_bytes_median: f64,
    /// Work, FLOP: median of a log-normal.
    pub work_flop_median: f64,
    /// Sigma of the log of size and work (0 makes them constant).
    pub spread_sigma: f64,
    /// Result size, bytes.
    pub output_bytes: u64,
    pub memory_bytes: u64,
    /// Time from arrival to deadline, seconds.
    pub deadline_s: f64,
    /// Fraction of peak throughput the work achieves (see
    /// [`TaskKind::default_efficiency`]).
    pub efficiency: f64,
}

/// Poisson arrivals of `kind` at each origin in `[start, end)`. Blind-zone answers go back
/// to their region; ground AI results stay at the data centre where the job arrived.
pub fn poisson_tasks(
    kind: TaskKind,
    cfg: &PoissonConfig,
    origins: &[NodeIdx],
    start: Epoch,
    end: Epoch,
    seed: u64,
) -> Vec<Task> {
    let purpose = match kind {
        TaskKind::BlindZone => Purpose::BlindZone,
        _ => Purpose::GroundAi,
    };
    let mut tasks = Vec::new();
    if cfg.rate_per_s <= 0.0 {
        return tasks;
    }
    for (i, &origin) in origins.iter().enumerate() {
        let mut rng = Stream::new(seed, purpose, i as u64);
        let mut t = start.add_s_f64(rng.exponential(1.0 / cfg.rate_per_s));
        while t < end {
            let input = rng.lognormal(cfg.input_bytes_median, cfg.spread_sigma);
            let work = rng.lognormal(cfg.work_flop_median, cfg.spread_sigma);
            tasks.push(Task {
                id: 0,
                kind,
                arrival: t,
                origin,
                destination: if kind == TaskKind::BlindZone {
                    Destination::Origin
                } else {
                    Destination::Node(origin)
                },
                deadline: t.add_s_f64(cfg.deadline_s),
                stages: vec![Stage {
                    work_flop: work,
                    input_bytes: (input.round() as u64).max(1),
                    output_bytes: cfg.output_bytes,
                    memory_bytes: cfg.memory_bytes,
                    pin: Pin::Free,
                    after: Vec::new(),
                    efficiency: cfg.efficiency,
                }],
            });
            t = t.add_s_f64(rng.exponential(1.0 / cfg.rate_per_s));
        }
    }
    tasks
}

/// Merges task lists into one, ordered by (arrival, kind, origin) with a stable tie order,
/// and numbers them 0.. in that order.
pub fn merge_and_number(lists: Vec<Vec<Task>>) -> Vec<Task> {
    let mut all: Vec<Task> = lists.into_iter().flatten().collect();
    all.sort_by_key(|t| (t.arrival, t.kind, t.origin));
    for (i, t) in all.iter_mut().enumerate() {
        t.id = i as u64;
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eo() -> EoConfig {
        EoConfig {
            swath_km: 50.0,
            bytes_per_km2: 1e6,
            flop_per_byte: 1e3,
            result_fraction: 0.01,
            memory_bytes: 1 << 30,
            tile_bytes: 1_000_000_000,
            deadline_s: 3_600.0,
            daylight_only: true,
            efficiency: 0.5,
        }
    }

    #[test]
    fn capture_volume_is_swath_times_track() {
        // A track due north along the 10 E meridian at 0.1 deg per 10 s, over a target box.
        let t0 = Epoch::parse_iso("2026-11-24T00:00:00Z").unwrap();
        let track: Vec<TrackPoint> = (0..100)
            .map(|k| TrackPoint {
                t: t0.add_ns(k * 10_000_000_000),
                latitude_deg: -5.0 + 0.1 * k as f64,
                longitude_deg: 10.0,
                sunlit: true,
            })
            .collect();
        let area = TargetArea {
            name: "box".into(),
            lat_min_deg: 0.0,
            lat_max_deg: 2.0,
            lon_min_deg: 5.0,
            lon_max_deg: 15.0,
        };
        let tasks = earth_observation_tasks(&eo(), 7, &track, &[area]);
        // Steps starting at 0.0 .. 2.0 deg (21 of them) image 0.1 deg each: 2.1 deg of
        // meridian = 233.5 km; x 50 km swath x 1 MB/km^2 = 11.67 GB -> 11 full tiles + rest.
        let total: u64 = tasks.iter().map(|t| t.stages[0].input_bytes).sum();
        let expected = 2.1f64.to_radians() * EARTH_MEAN_RADIUS_KM * 50.0 * 1e6;
        assert!(
            (total as f64 - expected).abs() < 1e3,
            "{total} vs {expected}"
        );
        assert_eq!(tasks.len(), 12);
        assert!(tasks.iter().all(|t| t.origin == 7 && t.validate().is_ok()));
        // Night: nothing.
        let dark: Vec<TrackPoint> = track
            .iter()
            .map(|p| TrackPoint {
                sunlit: false,
                ..*p
            })
            .collect();
        assert!(
            earth_observation_tasks(
                &eo(),
                7,
                &dark,
                &[TargetArea {
                    name: "b".into(),
                    lat_min_deg: 0.0,
                    lat_max_deg: 2.0,
                    lon_min_deg: 5.0,
                    lon_max_deg: 15.0
                }]
            )
            .is_empty()
        );
    }

    #[test]
    fn antimeridian_box() {
        let a = TargetArea {
            name: "pacific".into(),
            lat_min_deg: -10.0,
            lat_max_deg: 10.0,
            lon_min_deg: 170.0,
            lon_max_deg: -170.0,
        };
        assert!(a.contains(0.0, 175.0) && a.contains(0.0, -175.0) && a.contains(0.0, 185.0));
        assert!(!a.contains(0.0, 0.0));
    }

    #[test]
    fn poisson_count_and_determinism() {
        let cfg = PoissonConfig {
            rate_per_s: 0.5,
            input_bytes_median: 1e6,
            work_flop_median: 1e12,
            spread_sigma: 0.5,
            output_bytes: 1_000,
            memory_bytes: 1 << 30,
            deadline_s: 10.0,
            efficiency: 0.1,
        };
        let (s, e) = (
            Epoch::from_unix_ns(0),
            Epoch::from_unix_ns(20_000 * 1_000_000_000),
        );
        let a = poisson_tasks(TaskKind::BlindZone, &cfg, &[3, 4], s, e, 42);
        let b = poisson_tasks(TaskKind::BlindZone, &cfg, &[3, 4], s, e, 42);
        assert_eq!(a, b);
        // 2 origins x 0.5/s x 20,000 s = 20,000 expected; Poisson sd 141: within 4 sd.
        assert!((a.len() as f64 - 20_000.0).abs() < 600.0, "{}", a.len());
        let c = poisson_tasks(TaskKind::BlindZone, &cfg, &[3, 4], s, e, 43);
        assert_ne!(a, c);
        let merged = merge_and_number(vec![a]);
        assert!(
            merged
                .windows(2)
                .all(|w| w[0].arrival <= w[1].arrival && w[1].id == w[0].id + 1)
        );
    }
}
