//! A validated network: the node set, the link rules, and everything about them that does
//! not change with time (ground positions, fibre links, plus-grid partner lists).

use glam::DVec3;

use crate::config::{FibreConfig, IslPattern, LinkConfig};
use crate::error::NetworkError;
use crate::geometry::{delay_ms, great_circle_km};
use crate::node::{DataCentre, NodeId, NodeKind, RegionCap, StationNode, UserTerminalRegion};

/// Satellites listed plane by plane, the same number in each plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaneLayout {
    pub n_planes: u32,
    pub sats_per_plane: u32,
}

impl PlaneLayout {
    /// Plane and slot of satellite `sat_idx`.
    pub fn plane_slot(&self, sat_idx: u32) -> (u32, u32) {
        (sat_idx / self.sats_per_plane, sat_idx % self.sats_per_plane)
    }
}

/// Everything needed to build a [`Network`]; validated by [`Network::new`].
#[derive(Clone, Debug, PartialEq, Default)]
pub struct NetworkSpec {
    pub n_satellites: usize,
    /// Number of orbital planes, when the satellites are listed plane by plane.
    pub n_planes: Option<u32>,
    pub stations: Vec<StationNode>,
    pub data_centres: Vec<DataCentre>,
    pub user_terminals: Vec<UserTerminalRegion>,
    pub links: LinkConfig,
}

/// A ground node's fixed geometry and GSL limits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct GroundView {
    pub ecef_km: DVec3,
    pub up: DVec3,
    pub sin_min_elevation: f64,
    /// Square of the longest admitted slant range, km^2 (infinite without a range rule):
    /// the GSL loop compares squared lengths, no square root.
    pub max_range2_km2: f64,
    /// `u32::MAX` when unlimited.
    pub antennas: u32,
}

/// A fixed (Earth-bound) link: fibre.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct StaticLink {
    pub a: u32,
    pub b: u32,
    pub distance_km: f64,
    pub delay_ms: f64,
}

/// A validated network. Node ids: satellites, ground stations, data centres, user terminals.
#[derive(Clone, Debug)]
pub struct Network {
    spec: NetworkSpec,
    layout: Option<PlaneLayout>,
    pub(crate) station_views: Vec<GroundView>,
    /// Per user-terminal node: its cap, elevation mask (rad), links and link rate (bit/s).
    pub(crate) region_caps: Vec<(RegionCap, f64, u32, f64)>,
    pub(crate) fibre: Vec<StaticLink>,
    /// Candidate ISL pairs (a < b) for the plus-grid, in proposal order.
    pub(crate) plus_grid_pairs: Vec<(u32, u32)>,
}

fn invalid(field: &'static str, value: impl ToString, expected: &'static str) -> NetworkError {
    NetworkError::InvalidParameter {
        field,
        value: value.to_string(),
        expected,
    }
}

fn check_elevation(what: &'static str, name: &str, e: f64) -> Result<f64, NetworkError> {
    if e.is_finite() && (-90.0..90.0).contains(&e) {
        Ok(e)
    } else {
        Err(NetworkError::InvalidNode {
            what,
            name: name.to_string(),
            field: "min_elevation_deg",
            value: e.to_string(),
            expected: "[-90, 90)",
        })
    }
}

impl Network {
    pub fn new(spec: NetworkSpec) -> Result<Network, NetworkError> {
        let n = spec.n_satellites;
        if n == 0 {
            return Err(NetworkError::NoSatellites);
        }
        let total_nodes =
            n + spec.stations.len() + spec.data_centres.len() + spec.user_terminals.len();
        if total_nodes >= u32::MAX as usize {
            return Err(invalid(
                "node count",
                total_nodes,
                "fewer than 2^32 - 1 nodes",
            ));
        }
        let layout = match spec.n_planes {
            None => None,
            Some(0) => return Err(invalid("planes", 0, "at least 1")),
            Some(p) => {
                if !n.is_multiple_of(p as usize) {
                    return Err(NetworkError::PlanesDoNotDivide {
                        n_satellites: n,
                        n_planes: p as usize,
                    });
                }
                Some(PlaneLayout {
                    n_planes: p,
                    sats_per_plane: (n / p as usize) as u32,
                })
            }
        };
        let cfg = &spec.links;
        let isl = &cfg.isl;
        if !(isl.grazing_altitude_km.is_finite() && isl.grazing_altitude_km >= 0.0) {
            return Err(invalid(
                "grazing altitude (km)",
                isl.grazing_altitude_km,
                "a finite value >= 0",
            ));
        }
        if isl.max_range_km.is_nan() || isl.max_range_km <= 0.0 {
            return Err(invalid(
                "maximum ISL range (km)",
                isl.max_range_km,
                "a value > 0",
            ));
        }
        if !(isl.acquisition_s.is_finite() && isl.acquisition_s >= 0.0) {
            return Err(invalid(
                "ISL acquisition time (s)",
                isl.acquisition_s,
                "a finite value >= 0",
            ));
        }
        if !(cfg.gsl.handover_s.is_finite() && cfg.gsl.handover_s >= 0.0) {
            return Err(invalid(
                "GSL handover time (s)",
                cfg.gsl.handover_s,
                "a finite value >= 0",
            ));
        }
        if let Some(r) = isl.full_rate_km
            && !(r.is_finite() && r > 0.0)
        {
            return Err(invalid("ISL full-rate range (km)", r, "a finite value > 0"));
        }
        if let Some(lat) = isl.cross_plane_max_lat_deg {
            if !(0.0..=90.0).contains(&lat) {
                return Err(invalid(
                    "cross-plane ISL latitude limit (deg)",
                    lat,
                    "0 to 90",
                ));
            }
            if layout.is_none() {
                return Err(invalid(
                    "cross-plane ISL latitude limit (deg)",
                    lat,
                    "a constellation listed plane by plane (planes)",
                ));
            }
        }
        let plus_grid_pairs = match isl.pattern {
            IslPattern::PlusGrid { shift } => {
                let Some(layout) = layout else {
                    return Err(invalid(
                        "planes",
                        "none",
                        "a plane count (satellites listed plane by plane) for the plus-grid",
                    ));
                };
                plus_grid_pairs(layout, shift)
            }
            IslPattern::NearestK { k } if k == 0 => {
                return Err(invalid("nearest-k k", k, "at least 1"));
            }
            _ => Vec::new(),
        };
        check_elevation("GSL default", "", cfg.gsl.min_elevation_deg)?;
        let max_range2_km2 = match cfg.gsl.max_range_km {
            None => f64::INFINITY,
            Some(r) if r.is_finite() && r > 0.0 => r * r,
            Some(r) => {
                return Err(invalid("maximum GSL range (km)", r, "a finite value > 0"));
            }
        };
        if cfg.gsl.antennas == Some(0) {
            return Err(invalid("antennas", 0, "at least 1"));
        }
        if !(cfg.fibre_delay_factor.is_finite() && cfg.fibre_delay_factor >= 1.0) {
            return Err(invalid(
                "fibre delay factor",
                cfg.fibre_delay_factor,
                "a finite value >= 1",
            ));
        }
        let caps = cfg.capacities;
        for (field, v) in [
            ("ISL capacity (bit/s)", caps.isl_bps),
            ("GSL capacity (bit/s)", caps.gsl_bps),
            ("user-link capacity (bit/s)", caps.user_bps),
            ("fibre capacity (bit/s)", caps.fibre_bps),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(invalid(field, v, "a finite value > 0"));
            }
        }
        let default_antennas = cfg.gsl.antennas.unwrap_or(u32::MAX);
        let mut station_views = Vec::with_capacity(spec.stations.len());
        for s in &spec.stations {
            let name = &s.station.name;
            let e = check_elevation(
                "station",
                name,
                s.min_elevation_deg.unwrap_or(cfg.gsl.min_elevation_deg),
            )?;
            if s.antennas == Some(0) {
                return Err(NetworkError::InvalidNode {
                    what: "station",
                    name: name.clone(),
                    field: "antennas",
                    value: "0".into(),
                    expected: "at least 1",
                });
            }
            station_views.push(GroundView {
                ecef_km: s.station.ecef_km,
                up: s.station.up(),
                sin_min_elevation: e.to_radians().sin(),
                max_range2_km2,
                antennas: s.antennas.unwrap_or(default_antennas),
            });
        }
        for dc in &spec.data_centres {
            let c = dc.compute_capacity_flops;
            if !(c.is_finite() && c >= 0.0) {
                return Err(NetworkError::InvalidNode {
                    what: "data centre",
                    name: dc.site.name.clone(),
                    field: "compute_capacity_flops",
                    value: c.to_string(),
                    expected: "a finite value >= 0",
                });
            }
        }
        let mut region_caps = Vec::with_capacity(spec.user_terminals.len());
        for r in &spec.user_terminals {
            let e = check_elevation(
                "user-terminal region",
                &r.name,
                r.min_elevation_deg.unwrap_or(cfg.gsl.min_elevation_deg),
            )?;
            if r.links == Some(0) {
                return Err(NetworkError::InvalidNode {
                    what: "user-terminal region",
                    name: r.name.clone(),
                    field: "links",
                    value: "0".into(),
                    expected: "at least 1",
                });
            }
            let rate_bps = r.rate_bps.unwrap_or(cfg.capacities.user_bps);
            if !(rate_bps.is_finite() && rate_bps > 0.0) {
                return Err(NetworkError::InvalidNode {
                    what: "user-terminal region",
                    name: r.name.clone(),
                    field: "rate_bps",
                    value: rate_bps.to_string(),
                    expected: "a finite rate > 0",
                });
            }
            region_caps.push((
                r.cap()?,
                e.to_radians(),
                r.links.unwrap_or(default_antennas),
                rate_bps,
            ));
        }
        let mut net = Network {
            spec,
            layout,
            station_views,
            region_caps,
            fibre: Vec::new(),
            plus_grid_pairs,
        };
        net.fibre = net.fibre_links()?;
        Ok(net)
    }

    fn fibre_links(&self) -> Result<Vec<StaticLink>, NetworkError> {
        let gs = self.first_station() as u32..self.first_data_centre() as u32;
        let dc = self.first_data_centre() as u32..self.first_user_terminal() as u32;
        let mut pairs: Vec<(u32, u32)> = match &self.spec.links.fibre {
            FibreConfig::FullMesh => {
                let mut p = Vec::new();
                for d in dc.clone() {
                    p.extend(gs.clone().map(|g| (g, d)));
                    p.extend((d + 1..dc.end).map(|e| (d, e)));
                }
                p
            }
            FibreConfig::List(list) => {
                let mut p = Vec::with_capacity(list.len());
                for (index, &(a, b)) in list.iter().enumerate() {
                    let bad = |reason| NetworkError::BadFibreLink {
                        index,
                        a,
                        b,
                        reason,
                    };
                    let ground = |x: u32| gs.contains(&x) || dc.contains(&x);
                    if !ground(a) || !ground(b) {
                        return Err(bad("both ends must be ground stations or data centres"));
                    }
                    if a == b {
                        return Err(bad("a link needs two different ends"));
                    }
                    p.push((a.min(b), a.max(b)));
                }
                p
            }
        };
        pairs.sort_unstable();
        pairs.dedup();
        let factor = self.spec.links.fibre_delay_factor;
        Ok(pairs
            .into_iter()
            .map(|(a, b)| {
                let distance_km = great_circle_km(self.ground_ecef(a), self.ground_ecef(b));
                StaticLink {
                    a,
                    b,
                    distance_km,
                    delay_ms: delay_ms(distance_km, factor),
                }
            })
            .collect())
    }

    /// ECEF position of a ground node (station, data centre or region centre), km.
    pub fn ground_ecef(&self, id: u32) -> DVec3 {
        let i = id as usize;
        match self.kind(NodeId(id)) {
            NodeKind::Satellite => panic!("node {id} is a satellite, not a ground node"),
            NodeKind::GroundStation => self.spec.stations[i - self.first_station()].station.ecef_km,
            NodeKind::DataCentre => {
                self.spec.data_centres[i - self.first_data_centre()]
                    .site
                    .ecef_km
            }
            NodeKind::UserTerminal => {
                self.region_caps[i - self.first_user_terminal()]
                    .0
                    .centre_ecef_km
            }
        }
    }

    pub fn spec(&self) -> &NetworkSpec {
        &self.spec
    }

    pub fn config(&self) -> &LinkConfig {
        &self.spec.links
    }

    /// The plus-grid's candidate ISL pairs (`a < b`) in Hypatia's `isls.txt` order (per
    /// satellite, its in-plane then its inter-plane partner); empty for other patterns.
    pub fn plus_grid_pairs(&self) -> &[(u32, u32)] {
        &self.plus_grid_pairs
    }

    pub fn layout(&self) -> Option<PlaneLayout> {
        self.layout
    }

    pub fn n_satellites(&self) -> usize {
        self.spec.n_satellites
    }

    pub fn n_stations(&self) -> usize {
        self.spec.stations.len()
    }

    pub fn n_nodes(&self) -> usize {
        self.first_user_terminal() + self.spec.user_terminals.len()
    }

    pub fn first_station(&self) -> usize {
        self.spec.n_satellites
    }

    pub fn first_data_centre(&self) -> usize {
        self.first_station() + self.spec.stations.len()
    }

    pub fn first_user_terminal(&self) -> usize {
        self.first_data_centre() + self.spec.data_centres.len()
    }

    /// Ids of the ground stations, in file order.
    pub fn station_ids(&self) -> impl ExactSizeIterator<Item = NodeId> + '_ {
        (self.first_station()..self.first_data_centre()).map(|i| NodeId(i as u32))
    }

    /// Ids of the ground stations then the data centres.
    pub fn station_and_data_centre_ids(&self) -> impl ExactSizeIterator<Item = NodeId> + '_ {
        (self.first_station()..self.first_user_terminal()).map(|i| NodeId(i as u32))
    }

    pub fn kind(&self, id: NodeId) -> NodeKind {
        let i = id.idx();
        if i < self.first_station() {
            NodeKind::Satellite
        } else if i < self.first_data_centre() {
            NodeKind::GroundStation
        } else if i < self.first_user_terminal() {
            NodeKind::DataCentre
        } else {
            assert!(i < self.n_nodes(), "node {i} out of range");
            NodeKind::UserTerminal
        }
    }

    /// Name of a ground node, or `sat-{idx}` for satellites (the network does not keep
    /// satellite names: the caller has them in input order).
    pub fn node_name(&self, id: NodeId) -> String {
        let i = id.idx();
        match self.kind(id) {
            NodeKind::Satellite => format!("sat-{i}"),
            NodeKind::GroundStation => self.spec.stations[i - self.first_station()]
                .station
                .name
                .clone(),
            NodeKind::DataCentre => self.spec.data_centres[i - self.first_data_centre()]
                .site
                .name
                .clone(),
            NodeKind::UserTerminal => self.spec.user_terminals[i - self.first_user_terminal()]
                .name
                .clone(),
        }
    }
}

/// Plus-grid partners (Hypatia `generate_plus_grid_isls`): satellite (p, s) links to
/// (p, s+1) and to (p+1, s+shift), planes and slots wrapping around. Pairs are normalised
/// to a < b and deduplicated (small grids where the two rules name the same pair).
fn plus_grid_pairs(layout: PlaneLayout, shift: u32) -> Vec<(u32, u32)> {
    let (np, ns) = (layout.n_planes, layout.sats_per_plane);
    let mut pairs = Vec::with_capacity(2 * (np * ns) as usize);
    let mut seen = std::collections::BTreeSet::new();
    for p in 0..np {
        for s in 0..ns {
            let me = p * ns + s;
            let intra = p * ns + (s + 1) % ns;
            let inter = ((p + 1) % np) * ns + (s + shift) % ns;
            for other in [intra, inter] {
                let pair = (me.min(other), me.max(other));
                if other != me && seen.insert(pair) {
                    pairs.push(pair);
                }
            }
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_grid_has_two_links_per_satellite() {
        let pairs = plus_grid_pairs(
            PlaneLayout {
                n_planes: 72,
                sats_per_plane: 22,
            },
            0,
        );
        assert_eq!(pairs.len(), 2 * 72 * 22);
        let mut degree = vec![0; 72 * 22];
        for (a, b) in &pairs {
            degree[*a as usize] += 1;
            degree[*b as usize] += 1;
        }
        assert!(degree.iter().all(|&d| d == 4));
        // Satellite 0 (plane 0, slot 0): slot 1, plane 1 slot 0, and their mirrors.
        assert!(
            pairs.contains(&(0, 1))
                && pairs.contains(&(0, 22))
                && pairs.contains(&(0, 21))
                && pairs.contains(&(0, 71 * 22))
        );
    }

    #[test]
    fn shift_moves_the_inter_plane_partner() {
        let pairs = plus_grid_pairs(
            PlaneLayout {
                n_planes: 4,
                sats_per_plane: 5,
            },
            2,
        );
        assert!(pairs.contains(&(0, 7)), "{pairs:?}");
        // Two planes of two: intra links collapse to one pair per plane.
        let small = plus_grid_pairs(
            PlaneLayout {
                n_planes: 2,
                sats_per_plane: 2,
            },
            0,
        );
        assert_eq!(small, vec![(0, 1), (0, 2), (1, 3), (2, 3)]);
    }

    #[test]
    fn gsl_range_must_be_positive_and_finite() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let mut spec = NetworkSpec {
                n_satellites: 4,
                ..Default::default()
            };
            spec.links.isl.pattern = IslPattern::None;
            spec.links.gsl.max_range_km = Some(bad);
            assert!(
                matches!(
                    Network::new(spec),
                    Err(NetworkError::InvalidParameter {
                        field: "maximum GSL range (km)",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn planes_must_divide() {
        let spec = NetworkSpec {
            n_satellites: 10,
            n_planes: Some(3),
            ..Default::default()
        };
        assert_eq!(
            Network::new(spec).unwrap_err(),
            NetworkError::PlanesDoNotDivide {
                n_satellites: 10,
                n_planes: 3
            }
        );
        assert_eq!(
            Network::new(NetworkSpec::default()).unwrap_err(),
            NetworkError::NoSatellites
        );
    }
}
