//! One compute satellite as a steppable state machine: power, thermal and payload together,
//! for the discrete-event simulator and the planner's verification run.

use crate::environment::Environment;
use crate::error::{ParamError, within};
use crate::payload::Accelerator;
use crate::power::{Battery, PowerFlows, SolarArray, payload_available_w, step_power};
use crate::thermal::ThermalParams;

/// Seconds per Julian year, for array ageing.
const S_PER_YEAR: f64 = 365.25 * 86_400.0;

/// The fixed design of one satellite.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeConfig {
    pub accelerator: &'static Accelerator,
    /// Accelerator-equivalents on board (fractional when sized by power).
    pub n_accelerators: f64,
    pub array: SolarArray,
    pub battery: Battery,
    /// Platform load that is always on (avionics, attitude control, links), W.
    pub bus_power_w: f64,
    pub thermal: ThermalParams,
}

impl NodeConfig {
    /// Payload power at full throughput, accelerators plus host share, W.
    pub fn payload_max_w(&self) -> f64 {
        self.n_accelerators * self.accelerator.system_power_w()
    }
}

/// What bounded the payload in a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Granted what was requested.
    None,
    /// Not enough array and battery energy.
    Power,
    /// The temperature limit.
    Thermal,
}

/// The outcome of one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepResult {
    pub array_w: f64,
    pub requested_w: f64,
    pub granted_w: f64,
    /// Fraction of the payload's peak throughput delivered at `granted_w`.
    pub throughput_fraction: f64,
    pub limit: Limit,
    pub power: PowerFlows,
    pub temp_k: f64,
    pub soc_wh: f64,
}

/// The evolving state of one satellite.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeState {
    config: NodeConfig,
    soc_wh: f64,
    temp_k: f64,
    age_s: f64,
}

impl NodeState {
    /// A satellite with its battery at `soc_fraction` of capacity (at least the DoD limit),
    /// at `temp_k`, `age_years` into its life.
    pub fn new(
        config: NodeConfig,
        soc_fraction: f64,
        temp_k: f64,
        age_years: f64,
    ) -> Result<Self, ParamError> {
        let soc_fraction = within(
            "soc-fraction",
            soc_fraction,
            1.0 - config.battery.dod_limit(),
            1.0,
        )?;
        let temp_k = within("temp-k", temp_k, 3.0, 1_000.0)?;
        let age_years = within("age-years", age_years, 0.0, 100.0)?;
        Ok(NodeState {
            soc_wh: soc_fraction * config.battery.capacity_wh(),
            temp_k,
            age_s: age_years * S_PER_YEAR,
            config,
        })
    }

    pub fn config(&self) -> &NodeConfig {
        &self.config
    }
    pub fn soc_wh(&self) -> f64 {
        self.soc_wh
    }
    pub fn temp_k(&self) -> f64 {
        self.temp_k
    }
    pub fn age_years(&self) -> f64 {
        self.age_s / S_PER_YEAR
    }

    /// Advances `dt_s` seconds in a constant environment. The payload gets the least of
    /// what it requests, its maximum, what power allows and what keeps the temperature at
    /// or below the limit; the bus is served first.
    pub fn step(&mut self, dt_s: f64, env: &Environment, requested_payload_w: f64) -> StepResult {
        assert!(dt_s.is_finite() && dt_s >= 0.0, "step {dt_s} s");
        let cfg = &self.config;
        let requested_w = requested_payload_w.clamp(0.0, cfg.payload_max_w());
        let array_w = cfg.array.power_w(
            env.irradiance_w_m2,
            env.sunlit_fraction,
            env.array_cos_incidence(cfg.array.pointing()),
            self.age_years(),
        );
        let power_cap_w =
            payload_available_w(&cfg.battery, self.soc_wh, array_w, cfg.bus_power_w, dt_s);
        let thermal_env = env.thermal();
        let wanted_w = requested_w.min(power_cap_w);
        let granted_w = cfg.thermal.max_payload_heat_w(
            self.temp_k,
            cfg.bus_power_w,
            wanted_w,
            &thermal_env,
            dt_s,
        );
        let limit = if granted_w >= requested_w {
            Limit::None
        } else if granted_w < wanted_w {
            Limit::Thermal
        } else {
            Limit::Power
        };
        let flows = step_power(
            &cfg.battery,
            &mut self.soc_wh,
            array_w,
            cfg.bus_power_w,
            granted_w,
            dt_s,
        );
        let bus_served_w = if dt_s > 0.0 {
            cfg.bus_power_w - flows.bus_unserved_wh * 3_600.0 / dt_s
        } else {
            cfg.bus_power_w
        };
        self.temp_k = cfg.thermal.integrate(
            self.temp_k,
            bus_served_w + flows.payload_w,
            &thermal_env,
            dt_s,
        );
        self.age_s += dt_s;
        let per_accelerator_w = if cfg.n_accelerators > 0.0 {
            flows.payload_w / cfg.n_accelerators / (1.0 + cfg.accelerator.host_overhead_fraction)
        } else {
            0.0
        };
        StepResult {
            array_w,
            requested_w,
            granted_w: flows.payload_w,
            throughput_fraction: cfg.accelerator.throughput_fraction(per_accelerator_w),
            limit,
            power: flows,
            temp_k: self.temp_k,
            soc_wh: self.soc_wh,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::vertical_plate_view_factor;
    use crate::payload::accelerator;
    use crate::power::{CellType, Pointing};
    use tiandi_orbit::Shadow;

    fn env(sunlit: f64) -> Environment {
        Environment {
            irradiance_w_m2: 1_361.0,
            sunlit_fraction: sunlit,
            shadow: if sunlit > 0.0 {
                Shadow::Sunlit
            } else {
                Shadow::Umbra
            },
            beta_deg: 0.0,
            cos_sun_zenith: if sunlit > 0.0 { 0.5 } else { -0.5 },
            altitude_km: 550.0,
            radiator_earth_view_factor: vertical_plate_view_factor(6_928.137),
        }
    }

    fn config(radiator_m2: f64) -> NodeConfig {
        NodeConfig {
            accelerator: accelerator("orin").unwrap(),
            n_accelerators: 4.0,
            array: SolarArray::new(
                2.0,
                CellType::GaAsTripleJunction,
                None,
                Pointing::SunTracking,
            )
            .unwrap(),
            battery: Battery::new(300.0, 0.3, 0.95, 0.95).unwrap(),
            bus_power_w: 50.0,
            thermal: ThermalParams::new(30_000.0, radiator_m2, 0.85, 0.2, 318.0).unwrap(),
        }
    }

    #[test]
    fn eclipse_and_heat_limit_the_payload() {
        // Orin x 4: 264 W payload with host. Array 2 m^2: ~690 W in sunlight.
        let mut node = NodeState::new(config(3.0), 1.0, 290.0, 0.0).unwrap();
        let r = node.step(60.0, &env(1.0), 1_000.0);
        assert_eq!(r.requested_w, 264.0);
        assert_eq!(r.limit, Limit::None);
        assert!((r.throughput_fraction - 1.0).abs() < 1e-12);
        // In eclipse the battery carries it until the DoD limit, then power limits.
        let mut limited = false;
        for _ in 0..200 {
            let r = node.step(60.0, &env(0.0), 1_000.0);
            assert!(r.soc_wh >= node.config().battery.min_soc_wh() - 1e-9);
            limited |= r.limit == Limit::Power;
        }
        assert!(limited, "a 300 Wh battery cannot carry 314 W for 200 min");
        // A small radiator makes heat the limit instead.
        let mut hot = NodeState::new(config(0.5), 1.0, 300.0, 0.0).unwrap();
        let mut thermal = false;
        for _ in 0..500 {
            let r = hot.step(60.0, &env(1.0), 1_000.0);
            assert!(r.temp_k <= 318.0 + 1e-9, "{}", r.temp_k);
            thermal |= r.limit == Limit::Thermal;
        }
        assert!(thermal);
    }

    #[test]
    fn stepping_is_deterministic() {
        let run = || {
            let mut n = NodeState::new(config(1.0), 0.9, 280.0, 1.0).unwrap();
            (0..300)
                .map(|k| n.step(30.0, &env(if k % 3 == 0 { 0.0 } else { 1.0 }), 200.0))
                .map(|r| (r.soc_wh.to_bits(), r.temp_k.to_bits()))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }
}
