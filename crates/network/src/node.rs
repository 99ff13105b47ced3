//! Node kinds of the network: satellites, ground stations, data centres and user-terminal
//! regions, and the numbering that puts them in one id space.

use glam::DVec3;
use tiandi_orbit::{Geodetic, GroundStation, ecef_to_geodetic, geodetic_to_ecef};

use crate::error::NetworkError;

/// A node of the network. Satellites are `0..N` in input order, then ground stations in
/// file order, then data centres, then user-terminal regions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeKind {
    Satellite,
    GroundStation,
    DataCentre,
    UserTerminal,
}

impl NodeKind {
    /// Ground nodes are everything that is not a satellite.
    pub fn is_ground(self) -> bool {
        self != NodeKind::Satellite
    }
}

/// A ground station with its own GSL limits (falling back to the network's defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct StationNode {
    pub station: GroundStation,
    /// Minimum elevation for a GSL, degrees; `None` uses [`crate::GslConfig::min_elevation_deg`].
    pub min_elevation_deg: Option<f64>,
    /// Number of antennas (simultaneous GSLs); `None` uses [`crate::GslConfig::antennas`].
    pub antennas: Option<u32>,
}

impl StationNode {
    /// A station with the network's default elevation mask and antenna count.
    pub fn new(station: GroundStation) -> Self {
        StationNode {
            station,
            min_elevation_deg: None,
            antennas: None,
        }
    }
}

/// A ground data centre: a site with compute capacity, reached over fibre only.
#[derive(Clone, Debug, PartialEq)]
pub struct DataCentre {
    pub site: GroundStation,
    /// Sustained compute capacity, FLOP/s.
    pub compute_capacity_flops: f64,
}

/// The area a user-terminal region covers.
#[derive(Clone, Debug, PartialEq)]
pub enum RegionShape {
    /// A spherical cap: a centre point and a ground radius.
    Circle {
        latitude_deg: f64,
        longitude_deg: f64,
        radius_km: f64,
    },
    /// A polygon of (latitude_deg, longitude_deg) vertices; modelled by its bounding cap
    /// (the centroid of the vertex directions and the farthest vertex).
    Polygon { vertices_deg: Vec<(f64, f64)> },
}

/// A user-terminal region (a ship lane, a desert, a city): one node standing for all the
/// terminals in it. It links to any satellite that some point of the region sees above the
/// elevation mask; the link's length is measured from the region's centre.
#[derive(Clone, Debug, PartialEq)]
pub struct UserTerminalRegion {
    pub name: String,
    pub shape: RegionShape,
    /// Minimum elevation seen from inside the region, degrees; `None` uses the GSL default.
    pub min_elevation_deg: Option<f64>,
    /// Simultaneous satellite links (beams) for the region; `None` uses the GSL default.
    pub links: Option<u32>,
    /// Rate of each of its links, bit/s; `None`: `Capacities::user_bps`. A terminal at a
    /// point (a `Circle` of radius 0) with its own rate is one ship or vehicle.
    pub rate_bps: Option<f64>,
}

/// A user-terminal region reduced to what the link test needs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct RegionCap {
    /// The region's centre on the ellipsoid, ECEF km.
    pub centre_ecef_km: DVec3,
    /// Unit vector of the centre direction.
    pub centre_unit: DVec3,
    /// Angular radius of the cap, radians.
    pub radius_rad: f64,
}

fn check_lat_lon(name: &str, lat: f64, lon: f64) -> Result<(), NetworkError> {
    let bad = |field, value: f64, expected| NetworkError::InvalidNode {
        what: "user-terminal region",
        name: name.to_string(),
        field,
        value: value.to_string(),
        expected,
    };
    if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
        return Err(bad("latitude_deg", lat, "[-90, 90]"));
    }
    if !(lon.is_finite() && (-180.0..360.0).contains(&lon)) {
        return Err(bad("longitude_deg", lon, "[-180, 360)"));
    }
    Ok(())
}

impl UserTerminalRegion {
    /// Validates the shape and reduces it to a spherical cap.
    pub(crate) fn cap(&self) -> Result<RegionCap, NetworkError> {
        let surface = |lat: f64, lon: f64| {
            geodetic_to_ecef(Geodetic {
                latitude_deg: lat,
                longitude_deg: lon,
                altitude_km: 0.0,
            })
        };
        match &self.shape {
            RegionShape::Circle {
                latitude_deg,
                longitude_deg,
                radius_km,
            } => {
                check_lat_lon(&self.name, *latitude_deg, *longitude_deg)?;
                if !(radius_km.is_finite() && (0.0..=5_000.0).contains(radius_km)) {
                    return Err(NetworkError::InvalidNode {
                        what: "user-terminal region",
                        name: self.name.clone(),
                        field: "radius_km",
                        value: radius_km.to_string(),
                        expected: "0..=5000 km",
                    });
                }
                let centre = surface(*latitude_deg, *longitude_deg);
                Ok(RegionCap {
                    centre_ecef_km: centre,
                    centre_unit: centre.normalize(),
                    radius_rad: radius_km / crate::geometry::EARTH_MEAN_RADIUS_KM,
                })
            }
            RegionShape::Polygon { vertices_deg } => {
                if vertices_deg.len() < 3 {
                    return Err(NetworkError::InvalidNode {
                        what: "user-terminal region",
                        name: self.name.clone(),
                        field: "vertices",
                        value: vertices_deg.len().to_string(),
                        expected: "at least 3 vertices",
                    });
                }
                let mut sum = DVec3::ZERO;
                let mut units = Vec::with_capacity(vertices_deg.len());
                for &(lat, lon) in vertices_deg {
                    check_lat_lon(&self.name, lat, lon)?;
                    let u = surface(lat, lon).normalize();
                    units.push(u);
                    sum += u;
                }
                let too_wide = || NetworkError::InvalidNode {
                    what: "user-terminal region",
                    name: self.name.clone(),
                    field: "vertices",
                    value: format!("{} vertices", vertices_deg.len()),
                    expected: "a polygon within one hemisphere",
                };
                if sum.length() < 1e-9 {
                    return Err(too_wide());
                }
                let g = ecef_to_geodetic(sum);
                let centre = surface(g.latitude_deg, g.longitude_deg);
                let centre_unit = centre.normalize();
                let radius_rad = units
                    .iter()
                    .map(|u| u.cross(centre_unit).length().atan2(u.dot(centre_unit)))
                    .fold(0.0, f64::max);
                if radius_rad >= std::f64::consts::FRAC_PI_2 {
                    return Err(too_wide());
                }
                Ok(RegionCap {
                    centre_ecef_km: centre,
                    centre_unit,
                    radius_rad,
                })
            }
        }
    }
}

impl RegionCap {
    /// Whether some point of the cap sees a satellite at `sat_ecef_km` at or above the
    /// elevation `min_elevation_rad` (spherical Earth of the centre's radius). Returns the
    /// central angle between the centre and the sub-satellite point when it does.
    pub(crate) fn sees(&self, sat_ecef_km: DVec3, min_elevation_rad: f64) -> Option<f64> {
        let r_sat = sat_ecef_km.length();
        let r_earth = self.centre_ecef_km.length();
        if r_sat <= r_earth {
            return None;
        }
        // Coverage half-angle of a satellite at radius r for elevation e:
        // lambda = acos(R cos e / r) - e (Wertz, "Space Mission Analysis and Design", eq. 5-4).
        let lambda = (r_earth * min_elevation_rad.cos() / r_sat)
            .clamp(-1.0, 1.0)
            .acos()
            - min_elevation_rad;
        let u = sat_ecef_km / r_sat;
        let angle = u
            .cross(self.centre_unit)
            .length()
            .atan2(u.dot(self.centre_unit));
        (angle <= self.radius_rad + lambda).then_some(angle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circle_region_sees_overhead_and_not_far_away() {
        let region = UserTerminalRegion {
            name: "sahara".into(),
            shape: RegionShape::Circle {
                latitude_deg: 23.0,
                longitude_deg: 12.0,
                radius_km: 500.0,
            },
            min_elevation_deg: None,
            links: None,
            rate_bps: None,
        };
        let cap = region.cap().unwrap();
        let over = geodetic_to_ecef(Geodetic {
            latitude_deg: 23.0,
            longitude_deg: 12.0,
            altitude_km: 550.0,
        });
        assert!(cap.sees(over, 25f64.to_radians()).is_some());
        // 20 deg of arc away (~2,200 km) is outside 500 km + the ~940 km coverage radius.
        let far = geodetic_to_ecef(Geodetic {
            latitude_deg: 43.0,
            longitude_deg: 12.0,
            altitude_km: 550.0,
        });
        assert!(cap.sees(far, 25f64.to_radians()).is_none());
    }

    #[test]
    fn polygon_needs_three_vertices_and_valid_coordinates() {
        let mut region = UserTerminalRegion {
            name: "lane".into(),
            shape: RegionShape::Polygon {
                vertices_deg: vec![(0.0, 0.0), (1.0, 1.0)],
            },
            min_elevation_deg: None,
            links: None,
            rate_bps: None,
        };
        assert!(matches!(
            region.cap(),
            Err(NetworkError::InvalidNode {
                field: "vertices",
                ..
            })
        ));
        region.shape = RegionShape::Polygon {
            vertices_deg: vec![(0.0, 0.0), (95.0, 1.0), (1.0, 0.0)],
        };
        assert!(matches!(
            region.cap(),
            Err(NetworkError::InvalidNode {
                field: "latitude_deg",
                ..
            })
        ));
        region.shape = RegionShape::Polygon {
            vertices_deg: vec![(0.0, 0.0), (0.0, 2.0), (2.0, 1.0)],
        };
        let cap = region.cap().unwrap();
        // The bounding cap of a ~2 deg triangle is about 1.2 deg in radius.
        assert!(
            (0.5f64.to_radians()..2.0f64.to_radians()).contains(&cap.radius_rad),
            "{}",
            cap.radius_rad
        );
    }
}
