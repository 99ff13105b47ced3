//! Radiation faults: single-event upsets per device-day, raised inside the South Atlantic
//! Anomaly (SAA) and with altitude, and a seeded Poisson fault injector.
//!
//! The SAA is where the inner Van Allen belt dips closest to the Earth (the geomagnetic
//! dipole is offset from the Earth's centre), so LEO satellites meet trapped protons there
//! and hardly anywhere else below the polar cusps. Model: an ellipse in geodetic latitude
//! and longitude around the flux maximum at 500-600 km, which maps from SAMPEX, ROSAT and
//! AP-8 put near 25-30 deg S, 40-50 deg W (e.g. Heirtzler 2002, J. Atmos. Sol.-Terr. Phys.
//! 64, 1701; Fuerst et al. 2009, Earth Planets Space). Inside, the rate rises smoothly to a
//! peak at the centre; the trapped-proton part scales exponentially with altitude.
//!
//! Randomness: [`FaultRng`] is SplitMix64 (Steele, Lea & Flood, "Fast splittable
//! pseudorandom number generators", OOPSLA 2014; constants from Vigna's reference
//! `splitmix64.c`). It is kept in the crate rather than taken from `rand` so that the
//! sequence, and the Poisson sampler built on it, can never change under a dependency
//! upgrade: same seed, same faults, byte for byte.

use tiandi_orbit::Geodetic;

use crate::error::{ParamError, non_negative, positive, within};

/// The SAA as an ellipse in latitude and longitude, with its strength and altitude scaling.
#[derive(Clone, Debug, PartialEq)]
pub struct SaaModel {
    pub center_lat_deg: f64,
    pub center_lon_deg: f64,
    /// Semi-axis in latitude, deg.
    pub semi_lat_deg: f64,
    /// Semi-axis in longitude, deg.
    pub semi_lon_deg: f64,
    /// Rate multiplier at the centre, at the reference altitude.
    pub peak_multiplier: f64,
    pub reference_altitude_km: f64,
    /// e-folding altitude of the trapped-proton flux, km.
    pub scale_height_km: f64,
}

impl Default for SaaModel {
    /// Centre 30 S 45 W; semi-axes 20 deg (lat) x 40 deg (lon), covering roughly 50-10 S,
    /// 85-5 W, the >10 MeV proton contour at ~550 km in AP-8/SAMPEX maps.
    /// Peak x30 at the centre (x15 averaged over the ellipse): LEO SEU logs attribute most
    /// upsets to the few percent of the time spent in the SAA (e.g. UoSAT-2 and SAMPEX
    /// memory-upset maps), i.e. an in-SAA rate one to two orders above the background.
    /// Scale height 200 km: the AP-8 >10 MeV flux at the SAA centre grows by roughly an
    /// order of magnitude from 400 to 800 km (e^(400/200) = 7.4).
    /// All of these are a documented first approximation, not a fit.
    fn default() -> Self {
        SaaModel {
            center_lat_deg: -30.0,
            center_lon_deg: -45.0,
            semi_lat_deg: 20.0,
            semi_lon_deg: 40.0,
            peak_multiplier: 30.0,
            reference_altitude_km: 550.0,
            scale_height_km: 200.0,
        }
    }
}

impl SaaModel {
    /// 1 at the centre, falling as 1 - d^2 to 0 at the ellipse edge (d: normalised
    /// elliptical distance), 0 outside.
    pub fn weight(&self, latitude_deg: f64, longitude_deg: f64) -> f64 {
        let dlon = (longitude_deg - self.center_lon_deg + 540.0).rem_euclid(360.0) - 180.0;
        let dlat = latitude_deg - self.center_lat_deg;
        let d2 = (dlat / self.semi_lat_deg).powi(2) + (dlon / self.semi_lon_deg).powi(2);
        (1.0 - d2).max(0.0)
    }

    pub fn contains(&self, latitude_deg: f64, longitude_deg: f64) -> bool {
        self.weight(latitude_deg, longitude_deg) > 0.0
    }

    /// Rate multiplier over the background at a geodetic point:
    /// `1 + (peak - 1) w(lat, lon) exp((h - h_ref) / H)`.
    pub fn multiplier(&self, g: &Geodetic) -> f64 {
        let w = self.weight(g.latitude_deg, g.longitude_deg);
        if w == 0.0 {
            return 1.0;
        }
        let altitude = ((g.altitude_km - self.reference_altitude_km) / self.scale_height_km).exp();
        1.0 + (self.peak_multiplier - 1.0) * w * altitude
    }
}

/// Upset rate of one device.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultModel {
    background_per_device_day: f64,
    saa: SaaModel,
}

/// Bound on Poisson draws: more than this many expected faults in one call is a bug in
/// the caller's step size, not a physical case.
const MAX_EXPECTED_FAULTS: f64 = 1.0e6;

impl FaultModel {
    /// `background_per_device_day`: rate outside the SAA (e.g.
    /// [`crate::Accelerator::upsets_per_device_day`]).
    pub fn new(background_per_device_day: f64, saa: SaaModel) -> Result<Self, ParamError> {
        within("saa-peak-multiplier", saa.peak_multiplier, 1.0, 1.0e6)?;
        positive("saa-semi-axis", saa.semi_lat_deg.min(saa.semi_lon_deg))?;
        positive("saa-scale-height-km", saa.scale_height_km)?;
        Ok(FaultModel {
            background_per_device_day: non_negative(
                "upsets-per-device-day",
                background_per_device_day,
            )?,
            saa,
        })
    }

    pub fn saa(&self) -> &SaaModel {
        &self.saa
    }

    /// Instantaneous rate at a sub-satellite point, upsets per device-day.
    pub fn rate_per_device_day(&self, g: &Geodetic) -> f64 {
        self.background_per_device_day * self.saa.multiplier(g)
    }

    /// Expected upsets for `n_devices` over `dt_s` seconds between two positions
    /// (trapezoid rule; keep steps short compared with an SAA pass, ~10 min).
    pub fn expected_faults(&self, g0: &Geodetic, g1: &Geodetic, dt_s: f64, n_devices: u32) -> f64 {
        let mean = 0.5 * (self.rate_per_device_day(g0) + self.rate_per_device_day(g1));
        mean * f64::from(n_devices) * dt_s.max(0.0) / 86_400.0
    }

    /// Seeded fault injection: the number of upsets among `n_devices` over `dt_s`, drawn
    /// from a Poisson distribution with the expected count.
    pub fn faults_between(
        &self,
        g0: &Geodetic,
        g1: &Geodetic,
        dt_s: f64,
        n_devices: u32,
        rng: &mut FaultRng,
    ) -> u64 {
        rng.poisson(self.expected_faults(g0, g1, dt_s, n_devices))
    }
}

/// SplitMix64: a 64-bit state, one add and a mixing function per draw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultRng {
    state: u64,
}

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

impl FaultRng {
    /// A stream derived from the run's root seed and a stream id (one per satellite, say),
    /// so that adding a satellite does not shift the faults of the others.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut root = FaultRng { state: seed };
        let mixed = root.next_u64() ^ stream.wrapping_mul(GOLDEN_GAMMA);
        FaultRng { state: mix(mixed) }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix(self.state)
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A Poisson variate of mean `lambda`: Knuth's multiplication method on chunks of mean
    /// at most 30 (a Poisson sum is Poisson), each loop bounded.
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        assert!(
            lambda.is_finite() && (0.0..=MAX_EXPECTED_FAULTS).contains(&lambda),
            "Poisson mean {lambda}"
        );
        let mut remaining = lambda;
        let mut total = 0u64;
        while remaining > 0.0 {
            let chunk = remaining.min(30.0);
            remaining -= chunk;
            let limit = (-chunk).exp();
            let mut product = self.next_f64();
            // P(N > 200 | mean 30) < 1e-80: the bound is never the reason to stop.
            let mut k = 0u64;
            while product > limit && k < 200 {
                product *= self.next_f64();
                k += 1;
            }
            total += k;
        }
        total
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Shielded dose in LEO, krad(Si) a year: ASSUMED 0.15, Google's Suncatcher study (2025)
/// expects 750 rad(Si) over a 5-year mission behind its shielding at 650 km.
pub const LEO_DOSE_KRAD_PER_YEAR: f64 = 0.15;
/// Part-to-part spread of TID tolerance (sigma of its log): ASSUMED 0.3.
pub const TID_SPREAD_SIGMA: f64 = 0.3;

/// Fraction of devices past their TID tolerance at `dose_krad`, when tolerances are
/// log-normal around `tolerance_krad` with log-sigma `sigma`: `Phi(ln(dose / tol) / sigma)`.
pub fn fraction_retired(dose_krad: f64, tolerance_krad: f64, sigma: f64) -> f64 {
    if dose_krad <= 0.0 {
        return 0.0;
    }
    if sigma <= 0.0 {
        return if dose_krad >= tolerance_krad {
            1.0
        } else {
            0.0
        };
    }
    let z = (dose_krad / tolerance_krad).ln() / sigma;
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// Complementary error function (Numerical Recipes' erfcc, fractional error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The normal CDF against table values (Abramowitz & Stegun 26.2): Phi(0) = 0.5,
    /// Phi(1) = 0.841345, Phi(-2) = 0.022750; tolerance 1e-6 (the erfc's 1.2e-7).
    #[test]
    fn fraction_retired_is_the_log_normal_cdf() {
        assert!((fraction_retired(2.0, 2.0, 0.3) - 0.5).abs() < 1e-6);
        let one_sigma = 2.0 * 0.3f64.exp();
        assert!((fraction_retired(one_sigma, 2.0, 0.3) - 0.841_345).abs() < 1e-6);
        let minus_two = 2.0 * (-0.6f64).exp();
        assert!((fraction_retired(minus_two, 2.0, 0.3) - 0.022_750).abs() < 1e-6);
        assert_eq!(fraction_retired(0.0, 2.0, 0.3), 0.0);
    }

    fn at(lat: f64, lon: f64, alt: f64) -> Geodetic {
        Geodetic {
            latitude_deg: lat,
            longitude_deg: lon,
            altitude_km: alt,
        }
    }

    #[test]
    fn splitmix64_reference_values() {
        // Reference outputs of Vigna's splitmix64.c for state 1234567 (Rosetta Code,
        // "Pseudo-random numbers/Splitmix64", task statement).
        let mut r = FaultRng { state: 1_234_567 };
        assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
        assert_eq!(r.next_u64(), 9_817_491_932_198_370_423);
    }

    #[test]
    fn saa_raises_the_rate_inside_and_with_altitude() {
        let m = FaultModel::new(0.1, SaaModel::default()).unwrap();
        assert_eq!(m.rate_per_device_day(&at(40.0, 116.0, 550.0)), 0.1);
        assert!((m.rate_per_device_day(&at(-30.0, -45.0, 550.0)) - 3.0).abs() < 1e-12);
        // Longitude wraps: 315 E is 45 W.
        assert!((m.rate_per_device_day(&at(-30.0, 315.0, 550.0)) - 3.0).abs() < 1e-12);
        // Just inside the edge is barely raised, just outside is background.
        let edge = 0.1 * (1.0 + 29.0 * (1.0 - (39.9f64 / 40.0).powi(2)));
        assert!((m.rate_per_device_day(&at(-30.0, -45.0 + 39.9, 550.0)) - edge).abs() < 1e-12);
        assert!(edge < 0.115);
        assert_eq!(m.rate_per_device_day(&at(-30.0, -45.0 + 40.1, 550.0)), 0.1);
        let high = m.rate_per_device_day(&at(-30.0, -45.0, 750.0));
        assert!((high - 0.1 * (1.0 + 29.0 * 1.0f64.exp())).abs() < 1e-12);
        assert!(FaultModel::new(-1.0, SaaModel::default()).is_err());
    }

    #[test]
    fn injection_is_seeded_and_matches_the_expected_count() {
        let m = FaultModel::new(2.0, SaaModel::default()).unwrap();
        let (g0, g1) = (at(-30.0, -45.0, 550.0), at(-29.0, -40.0, 550.0));
        let draw = |seed| {
            let mut rng = FaultRng::new(seed, 7);
            (0..20_000)
                .map(|_| m.faults_between(&g0, &g1, 60.0, 8, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(42), draw(42), "same seed, same faults");
        assert_ne!(draw(42), draw(43));
        let lambda = m.expected_faults(&g0, &g1, 60.0, 8);
        let mean = draw(42).iter().sum::<u64>() as f64 / 20_000.0;
        // Standard error of the mean: sqrt(lambda / 20000) ~ 0.0038 for lambda ~ 0.3;
        // 5 sigma is 0.02.
        assert!(
            (mean - lambda).abs() < 5.0 * (lambda / 20_000.0).sqrt(),
            "{mean} vs {lambda}"
        );
        // Large means go through the chunked path with the right mean as well.
        let mut rng = FaultRng::new(1, 1);
        let big: f64 = (0..2_000).map(|_| rng.poisson(95.0) as f64).sum::<f64>() / 2_000.0;
        assert!(
            (big - 95.0).abs() < 5.0 * (95.0f64 / 2_000.0).sqrt(),
            "{big}"
        );
    }
}
