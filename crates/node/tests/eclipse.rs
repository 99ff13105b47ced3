//! Eclipse geometry against independent expectations: the cylindrical-shadow formulas for a
//! circular orbit, compared with the orbit core's propagation and conical shadow model as
//! the node crate's survey integrates them.

use tiandi_node::environment::{OrbitStats, survey_orbit};
use tiandi_node::{Pointing, SaaModel};
use tiandi_orbit::walker::{
    WalkerDesign, WalkerKind, raan_for_ltan_deg, sun_synchronous_inclination_deg,
};
use tiandi_orbit::{Epoch, Satellite};

/// WGS-84 equatorial radius, km (the shadow model's Earth).
const R_KM: f64 = 6_378.137;
/// Earth's GM, km^3/s^2 (WGS-84 / EGM-96: 398600.4418).
const MU_KM3_S2: f64 = 398_600.441_8;
const ALT_KM: f64 = 550.0;

fn circular(altitude_km: f64, inclination_deg: f64, raan_deg: f64, epoch: Epoch) -> Satellite {
    let design = WalkerDesign {
        kind: WalkerKind::Delta,
        n_planes: 1,
        sats_per_plane: 1,
        phasing: 0,
        altitude_km,
        inclination_deg,
        epoch,
        raan_offset_deg: raan_deg,
        first_norad_id: 1,
        name_prefix: "E".into(),
    };
    Satellite::new(design.elements().unwrap().pop().unwrap()).unwrap()
}

fn one_orbit(sat: &Satellite, t: Epoch, step_s: f64) -> OrbitStats {
    survey_orbit(
        sat,
        t,
        1,
        0.0,
        step_s,
        Pointing::SunTracking,
        &SaaModel::default(),
    )
    .unwrap()
    .orbits
    .remove(0)
}

/// Cylindrical shadow: fraction of a circular orbit in shadow at beta angle `beta_deg`,
/// `acos(sqrt(h^2 + 2 R h) / (r cos beta)) / pi`, 0 above the critical beta. Derivation: at
/// orbit angle u from orbit midnight the distance from the Sun line is
/// r sqrt(1 - cos^2 beta cos^2 u); shadow while that is below R.
fn cylinder_fraction(altitude_km: f64, beta_deg: f64) -> f64 {
    let r = R_KM + altitude_km;
    let x = (altitude_km * altitude_km + 2.0 * R_KM * altitude_km).sqrt()
        / (r * beta_deg.to_radians().cos());
    if x >= 1.0 {
        0.0
    } else {
        x.acos() / std::f64::consts::PI
    }
}

/// The March 2026 equinox is 2026-03-20 14:46 UTC: the Sun's declination is ~0, so a polar
/// orbit whose node is at the Sun's right ascension has beta ~0 and one rotated by d deg
/// has beta ~d.
fn equinox() -> Epoch {
    Epoch::from_ymd_hms(2026, 3, 20, 14, 46, 0.0)
}

#[test]
fn beta_zero_eclipse_is_35_6_of_95_6_minutes() {
    // Independent expectation from geometry alone.
    let r = R_KM + ALT_KM;
    let half_angle = (R_KM / r).asin();
    let period_min = std::f64::consts::TAU * (r * r * r / MU_KM3_S2).sqrt() / 60.0;
    let fraction = half_angle / std::f64::consts::PI;
    let eclipse_min = fraction * period_min;
    // The figures, to the precision it states them.
    assert!((period_min - 95.6).abs() < 0.1, "{period_min}");
    assert!((eclipse_min - 35.6).abs() < 0.1, "{eclipse_min}");
    assert!((fraction - 0.372).abs() < 0.001, "{fraction}");

    let t = equinox();
    let sat = circular(ALT_KM, 90.0, raan_for_ltan_deg(t, 12.0), t);
    let o = one_orbit(&sat, t, 1.0);
    assert!(o.beta_deg.abs() < 0.5, "beta {}", o.beta_deg);
    // Penumbra-weighted shadow of the conical model equals the cylinder's to first order
    // (the penumbra straddles the cylinder's edge). Tolerances: SGP4's radius swings
    // +-10 km over an orbit (short-period J2), moving each shadow edge by ~3 s; the
    // nodal period differs from the Keplerian one by J2 terms (~0.1 min); the 1 s sampling
    // adds < 1 s. 0.3 min on the eclipse and 0.3 min on the period cover these.
    let model_min = o.shadow_s / 60.0;
    assert!(
        (model_min - eclipse_min).abs() < 0.3,
        "model {model_min} min vs geometry {eclipse_min} min"
    );
    assert!(
        (o.period_s / 60.0 - period_min).abs() < 0.3,
        "{}",
        o.period_s / 60.0
    );
    assert!(
        (o.eclipse_fraction() - fraction).abs() < 0.004,
        "{}",
        o.eclipse_fraction()
    );
    // Umbra is shorter than the equivalent shadow by about half the two penumbra passes
    // (~8 s each at 550 km).
    assert!(
        o.umbra_s < o.shadow_s && o.shadow_s - o.umbra_s < 20.0,
        "{} {}",
        o.umbra_s,
        o.shadow_s
    );
    assert!(
        (o.longest_shadow_s - o.shadow_s).abs() < 1e-6,
        "one pass per orbit"
    );
}

#[test]
fn eclipse_fraction_follows_beta_and_vanishes_above_67_deg() {
    let beta_critical = (R_KM / (R_KM + ALT_KM)).asin().to_degrees();
    assert!((beta_critical - 67.0).abs() < 0.1, "{beta_critical}");
    let t = equinox();
    let node0 = raan_for_ltan_deg(t, 12.0);
    for beta in [20.0, 40.0, 60.0, 65.0, beta_critical + 1.0, 75.0, 85.0] {
        let sat = circular(ALT_KM, 90.0, node0 + beta, t);
        let o = one_orbit(&sat, t, 2.0);
        // Compare at the beta the orbit actually has (the Sun's declination is not exactly 0).
        let measured_beta = o.beta_deg.abs();
        assert!(
            (measured_beta - beta).abs() < 1.0,
            "asked {beta}, got {measured_beta}"
        );
        let expected = cylinder_fraction(ALT_KM, measured_beta);
        // 0.004 of an orbit = 23 s: the tolerance of the beta-0 test plus the steeper
        // slope of the fraction near the critical angle.
        assert!(
            (o.eclipse_fraction() - expected).abs() < 0.004,
            "beta {measured_beta}: model {} vs cylinder {expected}",
            o.eclipse_fraction()
        );
        if measured_beta > beta_critical + 0.5 {
            assert_eq!(o.shadow_s, 0.0, "no shadow at all at beta {measured_beta}");
        } else {
            assert!(o.umbra_s > 0.0, "umbra expected at beta {measured_beta}");
        }
    }
}

#[test]
fn dawn_dusk_sso_has_no_umbra_on_most_days() {
    let epoch = Epoch::from_ymd_hms(2026, 1, 1, 0, 0, 0.0);
    let incl = sun_synchronous_inclination_deg(ALT_KM).unwrap();
    let sat = circular(ALT_KM, incl, raan_for_ltan_deg(epoch, 6.0), epoch);
    // One orbit every 7 days through the year, 10 s sampling.
    let survey = survey_orbit(
        &sat,
        epoch,
        53,
        7.0,
        10.0,
        Pointing::SunTracking,
        &SaaModel::default(),
    )
    .unwrap();
    let beta_critical = (R_KM / (R_KM + ALT_KM)).asin().to_degrees();
    let mut checked = 0;
    for o in &survey.orbits {
        let beta = o.beta_deg.abs();
        // Dawn-dusk keeps the Sun high above the orbit plane all year: beta stays above
        // 90 - 23.44 - (i - 90) = 59 deg.
        assert!(beta > 58.0, "{} beta {beta}", o.start);
        // Umbra exactly when the geometry says so (1 deg either side of the critical angle
        // is left out: the conical umbra's edge sits ~0.3 deg inside the cylinder's).
        if beta > beta_critical + 1.0 {
            assert_eq!(o.umbra_s, 0.0, "{} beta {beta}", o.start);
            checked += 1;
        } else if beta < beta_critical - 1.0 {
            assert!(o.umbra_s > 0.0, "{} beta {beta}", o.start);
            checked += 1;
        }
    }
    assert!(checked >= 45, "{checked}");
    let with_umbra = survey.fraction_with_umbra();
    assert!(
        with_umbra < 0.5,
        "most days must be eclipse-free: {with_umbra}"
    );
    assert!(
        with_umbra > 0.0,
        "a 550 km dawn-dusk orbit does have a short eclipse season"
    );
}
