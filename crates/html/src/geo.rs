//! Geography for the maps: the embedded Natural Earth land outlines, and the scenario's
//! satellites and ground segment, re-read from the scenario the run used.
//!
//! The output files do not carry positions, so the scenario is found again (a copy in the
//! output directory, a built-in scenario, or the file named in `summary.json`) and accepted
//! only when its hash matches the one recorded with the run.

use std::path::Path;

use tiandi_network::{Network, NetworkSpec, RegionShape, SnapshotBuilder};
use tiandi_orbit::{Epoch, Frame, Satellite, ecef_to_geodetic};
use tiandi_report::summary::SummaryFile;
use tiandi_scenario::Scenario;

/// Natural Earth 1:110m land, one ring per line (see data/README.md).
const LAND: &str = tiandi_web::LAND_110M;

/// A ring of (longitude, latitude) degrees.
pub type Ring = Vec<(f64, f64)>;

/// Land outlines and holes (lakes), parsed from the embedded data.
pub fn land() -> (Vec<Ring>, Vec<Ring>) {
    let (mut outlines, mut holes) = (Vec::new(), Vec::new());
    for line in LAND
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (hole, pts) = match line.strip_prefix("h ") {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let ring: Ring = pts
            .split(' ')
            .filter_map(|p| {
                let (lon, lat) = p.split_once(',')?;
                Some((lon.parse().ok()?, lat.parse().ok()?))
            })
            .collect();
        if hole {
            holes.push(ring)
        } else {
            outlines.push(ring)
        }
    }
    (outlines, holes)
}

/// Land as polygons with their bounding boxes, for point-in-land tests (the reach
/// command's fibre access): Natural Earth 1:110m, so points within a few tens of km of a
/// coast may fall on the wrong side.
pub struct LandMask {
    rings: Vec<(Ring, [f64; 4])>,
    holes: Vec<(Ring, [f64; 4])>,
}

fn with_bbox(r: Ring) -> (Ring, [f64; 4]) {
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for &(lon, lat) in &r {
        b = [b[0].min(lon), b[1].min(lat), b[2].max(lon), b[3].max(lat)];
    }
    (r, b)
}

/// Even-odd test of (lon, lat) against one ring.
fn inside(ring: &(Ring, [f64; 4]), lon: f64, lat: f64) -> bool {
    let (r, b) = ring;
    if lon < b[0] || lon > b[2] || lat < b[1] || lat > b[3] {
        return false;
    }
    let mut inside = false;
    let mut j = r.len().wrapping_sub(1);
    for i in 0..r.len() {
        let (xi, yi) = r[i];
        let (xj, yj) = r[j];
        if (yi > lat) != (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

impl LandMask {
    pub fn new() -> LandMask {
        let (outlines, holes) = land();
        LandMask {
            rings: outlines.into_iter().map(with_bbox).collect(),
            holes: holes.into_iter().map(with_bbox).collect(),
        }
    }

    /// Whether the point (degrees) is on land.
    pub fn contains(&self, lon: f64, lat: f64) -> bool {
        let lon = wrap_lon(lon);
        self.rings.iter().any(|r| inside(r, lon, lat))
            && !self.holes.iter().any(|r| inside(r, lon, lat))
    }
}

impl Default for LandMask {
    fn default() -> Self {
        LandMask::new()
    }
}

/// Where each node of the run is, as far as the scenario says.
pub struct Geography {
    pub scenario: Scenario,
    /// Node names in network order.
    pub labels: Vec<String>,
    /// How the scenario was found, for the report.
    pub found: String,
}

/// A ground node on the map.
pub struct GroundPoint {
    pub name: String,
    pub lon: f64,
    pub lat: f64,
}

fn hash_text(s: &Scenario) -> String {
    format!("fnv1a64:{:016x}", s.hash)
}

/// Finds the scenario of a run: `DIR/scenario.toml`, else a built-in scenario with the
/// recorded hash, else the recorded source path (relative to the working directory) if its
/// hash still matches. `Err` says why no geography is available.
pub fn find_scenario(dir: &Path, summary: &SummaryFile) -> Result<Geography, String> {
    let want = summary.scenario_hash.clone();
    let matches = |s: &Scenario| want.as_deref().is_none_or(|w| w == hash_text(s));
    let copy = dir.join("scenario.toml");
    if copy.exists() {
        return match Scenario::load(&copy) {
            Ok(s) => Ok(geography(
                s,
                format!("{} (copy written with the run)", copy.display()),
            )),
            Err(e) => Err(format!("the scenario copy cannot be read: {e}")),
        };
    }
    let source = summary.scenario_source.clone().unwrap_or_default();
    if source == "built-in" || source.is_empty() {
        for name in tiandi_scenario::BUILT_IN {
            if let Some(Ok(s)) = Scenario::built_in(name)
                && matches(&s)
            {
                return Ok(geography(s, format!("built-in scenario {name:?}")));
            }
        }
        return Err("no built-in scenario has the hash recorded with the run".into());
    }
    let path = Path::new(&source);
    match Scenario::load(path) {
        Ok(s) if matches(&s) => Ok(geography(s, format!("{source} (hash matches the run)"))),
        Ok(s) => Err(format!(
            "{source} has changed since the run ({} now, {} then)",
            hash_text(&s),
            want.unwrap_or_default()
        )),
        Err(e) => Err(format!("the scenario file of the run cannot be read: {e}")),
    }
}

fn geography(scenario: Scenario, found: String) -> Geography {
    Geography {
        labels: scenario.node_labels(),
        scenario,
        found,
    }
}

/// Wraps a longitude into [-180, 180).
pub fn wrap_lon(lon: f64) -> f64 {
    (lon + 180.0).rem_euclid(360.0) - 180.0
}

impl Geography {
    pub fn spec(&self) -> &NetworkSpec {
        &self.scenario.network
    }

    pub fn satellites(&self) -> &[Satellite] {
        &self.scenario.satellites
    }

    /// Sub-satellite point (longitude, latitude) of satellite `idx` at `t`.
    pub fn sub_point(&self, idx: usize, t: Epoch) -> Option<(f64, f64)> {
        let s = self.satellites().get(idx)?.state_at(t, Frame::Itrf).ok()?;
        let g = ecef_to_geodetic(s.position_km);
        Some((wrap_lon(g.longitude_deg), g.latitude_deg))
    }

    /// Every satellite's sub-satellite point at `t` (`None` for one that failed to propagate).
    pub fn sub_points(&self, t: Epoch) -> Vec<Option<(f64, f64)>> {
        (0..self.satellites().len())
            .map(|i| self.sub_point(i, t))
            .collect()
    }

    pub fn stations(&self) -> Vec<GroundPoint> {
        self.spec()
            .stations
            .iter()
            .map(|s| GroundPoint {
                name: s.station.name.clone(),
                lon: wrap_lon(s.station.geodetic.longitude_deg),
                lat: s.station.geodetic.latitude_deg,
            })
            .collect()
    }

    pub fn data_centres(&self) -> Vec<GroundPoint> {
        self.spec()
            .data_centres
            .iter()
            .map(|d| GroundPoint {
                name: d.site.name.clone(),
                lon: wrap_lon(d.site.geodetic.longitude_deg),
                lat: d.site.geodetic.latitude_deg,
            })
            .collect()
    }

    /// User regions as outlines (a circle as a 72-gon on the sphere) with their names and
    /// centres.
    pub fn regions(&self) -> Vec<(GroundPoint, Ring)> {
        self.spec()
            .user_terminals
            .iter()
            .map(|r| match &r.shape {
                RegionShape::Circle {
                    latitude_deg,
                    longitude_deg,
                    radius_km,
                } => {
                    let ring = circle(*latitude_deg, *longitude_deg, *radius_km);
                    let p = GroundPoint {
                        name: r.name.clone(),
                        lon: wrap_lon(*longitude_deg),
                        lat: *latitude_deg,
                    };
                    (p, ring)
                }
                RegionShape::Polygon { vertices_deg } => {
                    let n = vertices_deg.len().max(1) as f64;
                    let lat = vertices_deg.iter().map(|v| v.0).sum::<f64>() / n;
                    let lon = vertices_deg.iter().map(|v| v.1).sum::<f64>() / n;
                    let ring = vertices_deg
                        .iter()
                        .map(|&(la, lo)| (wrap_lon(lo), la))
                        .collect();
                    let p = GroundPoint {
                        name: r.name.clone(),
                        lon: wrap_lon(lon),
                        lat,
                    };
                    (p, ring)
                }
            })
            .collect()
    }

    /// Map position of any node at `t`: satellites propagated, ground nodes fixed.
    pub fn node_positions(&self, t: Epoch) -> Vec<Option<(f64, f64)>> {
        let mut out = self.sub_points(t);
        out.extend(self.stations().into_iter().map(|p| Some((p.lon, p.lat))));
        out.extend(
            self.data_centres()
                .into_iter()
                .map(|p| Some((p.lon, p.lat))),
        );
        out.extend(
            self.regions()
                .into_iter()
                .map(|(p, _)| Some((p.lon, p.lat))),
        );
        out
    }

    /// Every link of the topology at `t` (built afresh from the scenario's link rules), as
    /// node pairs.
    pub fn topology(&self, t: Epoch) -> Result<Vec<(u32, u32)>, String> {
        let net = Network::new(self.spec().clone()).map_err(|e| e.to_string())?;
        let mut builder = SnapshotBuilder::new(&net);
        let snap = builder
            .build(self.satellites(), t)
            .map_err(|e| e.to_string())?;
        Ok(snap.links().iter().map(|l| (l.a, l.b)).collect())
    }
}

/// A spherical-cap outline: points at angular radius `radius_km / R` around the centre.
fn circle(lat_deg: f64, lon_deg: f64, radius_km: f64) -> Ring {
    // Mean Earth radius, km (IUGG); a map outline needs no better.
    const R_KM: f64 = 6_371.0;
    let d = radius_km / R_KM;
    let (lat1, lon1) = (lat_deg.to_radians(), lon_deg.to_radians());
    (0..=72)
        .map(|k| {
            let brg = f64::from(k) * 5f64.to_radians();
            let lat2 = (lat1.sin() * d.cos() + lat1.cos() * d.sin() * brg.cos()).asin();
            let lon2 =
                lon1 + (brg.sin() * d.sin() * lat1.cos()).atan2(d.cos() - lat1.sin() * lat2.sin());
            (wrap_lon(lon2.to_degrees()), lat2.to_degrees())
        })
        .collect()
}

/// Splits a polyline where it crosses the antimeridian, interpolating the crossing.
pub fn split_at_antimeridian(points: &[(f64, f64)]) -> Vec<Ring> {
    let mut out: Vec<Ring> = Vec::new();
    let mut cur: Ring = Vec::new();
    for &p in points {
        if let Some(&q) = cur.last() {
            let pieces = wrap_segment(q, p);
            if pieces.len() == 2 {
                cur.push(pieces[0].1);
                out.push(std::mem::take(&mut cur));
                cur.push(pieces[1].0);
            }
        }
        cur.push(p);
    }
    if cur.len() > 1 {
        out.push(cur);
    }
    out
}

/// A segment between two map points, as one piece or two when it crosses the antimeridian.
pub fn wrap_segment(a: (f64, f64), b: (f64, f64)) -> Vec<((f64, f64), (f64, f64))> {
    if (b.0 - a.0).abs() <= 180.0 {
        return vec![(a, b)];
    }
    let b_lon = if b.0 < a.0 { b.0 + 360.0 } else { b.0 - 360.0 };
    let edge = if b_lon > a.0 { 180.0 } else { -180.0 };
    let f = (edge - a.0) / (b_lon - a.0);
    let lat = a.1 + f * (b.1 - a.1);
    vec![(a, (edge, lat)), ((-edge, lat), b)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_land_mask_knows_cities_from_seas() {
        let m = LandMask::new();
        // (lon, lat): Beijing, Urumqi, Lhasa, Paris, Manaus; the Yellow Sea, the South China
        // Sea, the mid-Pacific, the Caspian Sea (the one hole).
        for (lon, lat) in [
            (116.4, 39.9),
            (87.6, 43.8),
            (91.1, 29.6),
            (2.35, 48.85),
            (-60.0, -3.1),
        ] {
            assert!(m.contains(lon, lat), "({lon}, {lat}) is land");
        }
        for (lon, lat) in [(123.0, 35.0), (115.0, 15.0), (-150.0, 0.0), (50.5, 42.0)] {
            assert!(!m.contains(lon, lat), "({lon}, {lat}) is sea");
        }
    }

    #[test]
    fn land_has_the_continents_and_stays_on_the_globe() {
        let (outlines, holes) = land();
        assert!(outlines.len() > 100, "{} rings", outlines.len());
        assert_eq!(holes.len(), 1, "the Caspian Sea is the one hole at 1:110m");
        let n: usize = outlines.iter().map(Vec::len).sum();
        assert!(n > 4_000, "{n} points");
        for (lon, lat) in outlines.iter().flatten() {
            assert!((-180.0..=180.0).contains(lon) && (-90.0..=90.0).contains(lat));
        }
    }

    #[test]
    fn antimeridian_crossings_are_split_at_the_edge() {
        let parts = wrap_segment((170.0, 10.0), (-170.0, 20.0));
        assert_eq!(
            parts,
            vec![
                ((170.0, 10.0), (180.0, 15.0)),
                ((-180.0, 15.0), (-170.0, 20.0))
            ]
        );
        let track =
            split_at_antimeridian(&[(160.0, 0.0), (175.0, 1.0), (-175.0, 2.0), (-160.0, 3.0)]);
        assert_eq!(track.len(), 2);
        assert_eq!(track[0].last(), Some(&(180.0, 1.5)));
        assert_eq!(track[1][0], (-180.0, 1.5));
        assert_eq!(wrap_lon(190.0), -170.0);
        assert_eq!(wrap_lon(-180.0), -180.0);
    }

    #[test]
    fn a_circle_region_surrounds_its_centre() {
        // 600 km is 5.40 deg of arc; at the equator the north point is 5.40 deg up.
        let ring = circle(0.0, 100.0, 600.0);
        assert_eq!(ring.len(), 73);
        assert!((ring[0].1 - 5.396).abs() < 1e-3, "{:?}", ring[0]);
        assert!((ring[0].0 - 100.0).abs() < 1e-9);
    }
}
