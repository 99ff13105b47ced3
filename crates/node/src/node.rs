//! One compute satellite as a steppable state machine: power, thermal and payload together,
//! for the discrete-event simulator and the planner's verification run.

use crate::environment::Environment;
use crate::error::{ParamError, within};
use crate::payload::Accelerator;
use crate::power::{Battery, PowerFlows, SolarArray, payload_available_w, step_power};
use crate::thermal::{ThermalEnv, ThermalParams};

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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Limit {
    /// Granted what was requested.
    #[default]
    None,
    /// Not enough array and battery energy.
    Power,
    /// The temperature limit.
    Thermal,
}

/// What the node can give its payload over the coming step, decided at the step's start
/// (see [`NodeState::grant`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grant {
    pub array_w: f64,
    /// What was asked for, clamped to the payload's maximum, W.
    pub requested_w: f64,
    /// Heater power reserved so the electronics stay at or above their minimum even if the
    /// payload draws only its floor, W.
    pub heater_w: f64,
    /// The largest average payload power the step allows (array, battery above its
    /// depth-of-discharge floor, and radiator), W.
    pub payload_cap_w: f64,
    /// What bounded the cap below the request.
    pub limit: Limit,
    thermal_env: ThermalEnv,
}

/// The outcome of one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepResult {
    pub array_w: f64,
    pub requested_w: f64,
    /// Average payload power drawn in the step, W.
    pub granted_w: f64,
    /// Average heater power drawn, W.
    pub heater_w: f64,
    /// Average bus power served, W.
    pub bus_w: f64,
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

    /// What the coming `dt_s` step allows the payload, in a constant environment, when it
    /// asks for `requested_payload_w` and will draw at least `floor_w` (its powered idle
    /// devices). The bus is served first, then the heaters (sized for the floor), then the
    /// payload up to what the array and the battery above its depth-of-discharge floor can
    /// supply and what keeps the temperature at or below the limit. Changes nothing.
    pub fn grant(
        &self,
        dt_s: f64,
        env: &Environment,
        requested_payload_w: f64,
        floor_w: f64,
    ) -> Grant {
        assert!(dt_s.is_finite() && dt_s >= 0.0, "step {dt_s} s");
        let cfg = &self.config;
        let requested_w = requested_payload_w.clamp(0.0, cfg.payload_max_w());
        let array_w = cfg.array.power_w(
            env.irradiance_w_m2,
            env.sunlit_fraction,
            env.array_cos_incidence(cfg.array.pointing()),
            self.age_years(),
        );
        let thermal_env = env.thermal();
        let floor_w = floor_w.clamp(0.0, requested_w);
        let heater_w =
            cfg.thermal
                .heater_w(self.temp_k, cfg.bus_power_w + floor_w, &thermal_env, dt_s);
        let power_cap_w = payload_available_w(
            &cfg.battery,
            self.soc_wh,
            array_w,
            cfg.bus_power_w + heater_w,
            dt_s,
        );
        let wanted_w = requested_w.min(power_cap_w);
        let payload_cap_w = cfg.thermal.max_payload_heat_w(
            self.temp_k,
            cfg.bus_power_w + heater_w,
            wanted_w,
            &thermal_env,
            dt_s,
        );
        let limit = if payload_cap_w >= requested_w {
            Limit::None
        } else if payload_cap_w < wanted_w {
            Limit::Thermal
        } else {
            Limit::Power
        };
        Grant {
            array_w,
            requested_w,
            heater_w,
            payload_cap_w,
            limit,
            thermal_env,
        }
    }

    /// Ends the step that `grant` opened: the payload drew `payload_w` on average (at most
    /// the grant's cap). The heaters draw what the actual heat leaves them to do, the
    /// battery takes the balance and the temperature follows.
    pub fn settle(&mut self, dt_s: f64, grant: &Grant, payload_w: f64) -> StepResult {
        let cfg = &self.config;
        let payload_w = payload_w.clamp(0.0, grant.payload_cap_w);
        let heater_w = cfg
            .thermal
            .heater_w(
                self.temp_k,
                cfg.bus_power_w + payload_w,
                &grant.thermal_env,
                dt_s,
            )
            .min(grant.heater_w);
        let flows = step_power(
            &cfg.battery,
            &mut self.soc_wh,
            grant.array_w,
            cfg.bus_power_w + heater_w,
            payload_w,
            dt_s,
        );
        let unserved_w = if dt_s > 0.0 {
            flows.bus_unserved_wh * 3_600.0 / dt_s
        } else {
            0.0
        };
        // A brown-out takes from the heaters first, then from the bus.
        let bus_w = cfg.bus_power_w - (unserved_w - heater_w).max(0.0);
        let heater_w = (heater_w - unserved_w).max(0.0);
        self.temp_k = cfg.thermal.integrate(
            self.temp_k,
            bus_w + heater_w + flows.payload_w,
            &grant.thermal_env,
            dt_s,
        );
        self.age_s += dt_s;
        let per_accelerator_w = if cfg.n_accelerators > 0.0 {
            flows.payload_w / cfg.n_accelerators / (1.0 + cfg.accelerator.host_overhead_fraction)
        } else {
            0.0
        };
        StepResult {
            array_w: grant.array_w,
            requested_w: grant.requested_w,
            granted_w: flows.payload_w,
            heater_w,
            bus_w,
            throughput_fraction: cfg.accelerator.throughput_fraction(per_accelerator_w),
            limit: grant.limit,
            power: flows,
            temp_k: self.temp_k,
            soc_wh: self.soc_wh,
        }
    }

    /// How long the payload can draw `payload_w` in `env` before the temperature reaches
    /// its limit, s (infinite when the radiator holds it at or below the limit, 0 when
    /// already there), and the fraction of `payload_w` the radiator holds at the limit
    /// (1 when it never throttles). The time is a lower bound: it takes the net heat at the
    /// current temperature, the largest on the way up.
    pub fn heat_outlook(&self, env: &Environment, payload_w: f64) -> (f64, f64) {
        let th = &self.config.thermal;
        let tenv = env.thermal();
        let base_w = self.config.bus_power_w;
        let limit = th.temp_limit_k();
        if payload_w <= 0.0 || th.equilibrium_temp_k(base_w + payload_w, &tenv) <= limit {
            return (f64::INFINITY, 1.0);
        }
        let sustained_w = th.emitted_w(limit) - th.absorbed_w(&tenv) - base_w;
        let fraction = (sustained_w / payload_w).clamp(0.0, 1.0);
        if self.temp_k >= limit {
            return (0.0, fraction);
        }
        let net_w = base_w + payload_w + th.absorbed_w(&tenv) - th.emitted_w(self.temp_k);
        let headroom_s = if net_w > 0.0 {
            th.heat_capacity_j_per_k() * (limit - self.temp_k) / net_w
        } else {
            f64::INFINITY
        };
        (headroom_s, fraction)
    }

    /// Advances `dt_s` seconds in a constant environment with the payload drawing all it
    /// is granted of `requested_payload_w` ([`Self::grant`] then [`Self::settle`]).
    pub fn step(&mut self, dt_s: f64, env: &Environment, requested_payload_w: f64) -> StepResult {
        let grant = self.grant(dt_s, env, requested_payload_w, 0.0);
        self.settle(dt_s, &grant, grant.payload_cap_w)
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
    fn heat_outlook_matches_the_radiator_balance() {
        // A 0.5 m^2 radiator cannot hold 264 W: the fraction it holds puts the
        // equilibrium exactly at the limit, and the headroom is C dT / net heat.
        let node = NodeState::new(config(0.5), 1.0, 290.0, 0.0).unwrap();
        let e = env(1.0);
        let th = &node.config().thermal;
        let (headroom_s, fraction) = node.heat_outlook(&e, 264.0);
        assert!(fraction > 0.0 && fraction < 1.0, "{fraction}");
        let eq = th.equilibrium_temp_k(50.0 + fraction * 264.0, &e.thermal());
        assert!(
            (eq - 318.0).abs() < 1e-6,
            "equilibrium {eq} K at the held power"
        );
        let net_w = 50.0 + 264.0 + th.absorbed_w(&e.thermal()) - th.emitted_w(290.0);
        let expected = 30_000.0 * (318.0 - 290.0) / net_w;
        assert!(
            (headroom_s - expected).abs() < 1e-9 * expected,
            "{headroom_s} vs {expected}"
        );
        // Stepping at full power does reach the limit, and not before the bound says.
        let mut hot = node.clone();
        let mut t = 0.0;
        while hot.temp_k() < 318.0 - 1e-9 && t < 10_000.0 {
            hot.step(1.0, &e, 264.0);
            t += 1.0;
        }
        assert!(
            t >= headroom_s.floor(),
            "reached the limit after {t} s, bound {headroom_s}"
        );
        // A large radiator holds everything.
        let cool = NodeState::new(config(3.0), 1.0, 290.0, 0.0).unwrap();
        assert_eq!(cool.heat_outlook(&e, 264.0), (f64::INFINITY, 1.0));
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

    /// Golden: state of charge through one eclipse, by hand. A 300 Wh battery at 95 % with
    /// 95 % discharge efficiency carries a 50 W bus and a payload of two Orin modules at
    /// idle-plus-host (the floor) for a 35.5 min umbra (550 km, beta 0: Wertz & Larson
    /// SMAD's cylinder shadow gives 35.5 min of a 95.6 min orbit). The load is
    /// 50 + P W for 2,130 s, drawn through 0.95: SoC_end = 0.95 x 300 - (50 + P) x
    /// 2130 / 3600 / 0.95 Wh. Tolerance 1e-9 Wh: the model is the same arithmetic in 71
    /// steps of 30 s, so only rounding differs.
    #[test]
    fn state_of_charge_through_one_eclipse_matches_hand_calculation() {
        let mut node = NodeState::new(config(3.0), 0.95, 300.0, 0.0).unwrap();
        let payload_w = 40.0;
        let mut granted = 0.0;
        for _ in 0..71 {
            let g = node.grant(30.0, &env(0.0), payload_w, payload_w);
            assert_eq!(g.limit, Limit::None, "the battery is above its floor");
            assert_eq!(g.heater_w, 0.0, "300 K needs no heater over an eclipse");
            let r = node.settle(30.0, &g, payload_w);
            granted += r.granted_w * 30.0;
            assert_eq!(r.power.collected_wh, 0.0);
            assert!(r.power.imbalance_wh().abs() < 1e-12);
        }
        assert!((granted - payload_w * 2_130.0).abs() < 1e-9);
        let hand_wh = 0.95 * 300.0 - (50.0 + payload_w) * 2_130.0 / 3_600.0 / 0.95;
        assert!(
            (node.soc_wh() - hand_wh).abs() < 1e-9,
            "{} Wh vs {hand_wh} Wh by hand",
            node.soc_wh()
        );
        // 56.05 Wh of 300: 18.7 % depth of discharge, within the 30 % floor.
        assert!((hand_wh - 228.947).abs() < 1e-3, "{hand_wh}");
    }

    /// Heaters: a cold node in eclipse with its payload off is held at its minimum
    /// temperature, and the heater's power is what the radiator loses there less the bus's
    /// heat (the balance at the minimum, Stefan-Boltzmann), to the bisection's precision.
    #[test]
    fn heaters_hold_the_minimum_temperature() {
        let cfg = NodeConfig {
            thermal: ThermalParams::new(30_000.0, 1.5, 0.85, 0.2, 318.0)
                .unwrap()
                .with_heater(253.15, 300.0)
                .unwrap(),
            ..config(1.5)
        };
        let mut node = NodeState::new(cfg, 0.95, 253.15, 0.0).unwrap();
        let e = env(0.0);
        let mut last = None;
        // Ten minutes: the battery (75 Wh above its floor) carries bus and heater.
        for _ in 0..10 {
            let g = node.grant(60.0, &e, 0.0, 0.0);
            let r = node.settle(60.0, &g, 0.0);
            assert!(r.temp_k >= 253.15 - 1e-6, "{} K", r.temp_k);
            last = Some(r);
        }
        let r = last.unwrap();
        let th = &node.config().thermal;
        let balance_w = th.emitted_w(253.15) - th.absorbed_w(&e.thermal()) - 50.0;
        assert!(
            (r.heater_w - balance_w).abs() < 0.05,
            "heater {} W, balance {balance_w} W",
            r.heater_w
        );
        assert!(
            r.heater_w > 10.0,
            "a cold night needs heat: {} W",
            r.heater_w
        );
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
