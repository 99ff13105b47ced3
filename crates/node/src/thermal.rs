//! Lumped (single-node) thermal model with payload throttling, and steady-state radiator
//! sizing.
//!
//! `C dT/dt = Q_internal + A (alpha (q_solar + q_albedo) + eps q_ir) - eps sigma A T^4`
//! (Gilmore, Spacecraft Thermal Control Handbook vol. 1, 2nd ed., 2002, ch. 2 and 6).
//! The radiator is the only surface that exchanges heat with space; the rest of the body
//! is taken as insulated by multi-layer insulation.

use crate::error::{ParamError, non_negative, positive, unit_fraction, within};

/// Stefan-Boltzmann constant, W m^-2 K^-4 (CODATA 2018, exact in the 2019 SI).
pub const STEFAN_BOLTZMANN_W_M2_K4: f64 = 5.670_374_419e-8;

/// Radiator area (one radiating face) that rejects `heat_w` at `radiator_temp_k` to an
/// environment of effective sink temperature `sink_temp_k`:
/// `A = Q / (eps sigma (T^4 - T_sink^4))`.
pub fn radiator_area_m2(
    heat_w: f64,
    radiator_temp_k: f64,
    sink_temp_k: f64,
    emissivity: f64,
) -> Result<f64, ParamError> {
    non_negative("heat-w", heat_w)?;
    positive("radiator-temp-k", radiator_temp_k)?;
    non_negative("sink-temp-k", sink_temp_k)?;
    unit_fraction("emissivity", emissivity)?;
    if radiator_temp_k <= sink_temp_k {
        return Err(ParamError::new(
            "radiator-temp-k",
            radiator_temp_k,
            format!("above the sink temperature {sink_temp_k:.1} K"),
        ));
    }
    Ok(heat_w
        / (emissivity * STEFAN_BOLTZMANN_W_M2_K4 * (radiator_temp_k.powi(4) - sink_temp_k.powi(4))))
}

/// Effective sink temperature of a surface that absorbs `absorbed_w_m2` from its
/// environment: the temperature at which it would radiate exactly that, `(q / eps sigma)^1/4`.
pub fn sink_temp_k(absorbed_w_m2: f64, emissivity: f64) -> f64 {
    (absorbed_w_m2.max(0.0) / (emissivity * STEFAN_BOLTZMANN_W_M2_K4)).powf(0.25)
}

/// Radiative environment of the radiator face, W/m^2 incident on it (before absorption).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ThermalEnv {
    /// Direct sunlight on the radiator (irradiance x visible fraction x cos incidence).
    pub solar_w_m2: f64,
    /// Sunlight reflected by the Earth onto the radiator.
    pub albedo_w_m2: f64,
    /// Earth infrared onto the radiator.
    pub earth_ir_w_m2: f64,
}

/// Thermal parameters of one satellite. Fields are private: build with
/// [`ThermalParams::new`].
#[derive(Clone, Debug, PartialEq)]
pub struct ThermalParams {
    heat_capacity_j_per_k: f64,
    radiator_area_m2: f64,
    emissivity: f64,
    absorptivity: f64,
    temp_limit_k: f64,
    /// The electronics' minimum operating temperature, K: heaters hold it.
    min_temp_k: f64,
    /// Heater power available, W.
    heater_max_w: f64,
}

/// Minimum operating temperature of the payload electronics, K: -20 C, the cold end of the
/// typical operating range of spacecraft electronics boxes (-20 to +50 C; Gilmore,
/// Spacecraft Thermal Control Handbook vol. 1, 2nd ed., 2002, ch. 1, typical component
/// temperature limits). Jetson AGX Orin modules are rated from -25 C (NVIDIA Jetson AGX
/// Orin Series Data Sheet, operating temperature).
pub const MIN_OPERATING_TEMP_K: f64 = 253.15;
/// Heater power a satellite can spend to stay above its minimum, W. ASSUMED: a round
/// figure, a third of the default 300 W bus; heaters of small LEO buses are tens of watts
/// (Gilmore 2002, ch. 7).
pub const HEATER_MAX_W: f64 = 100.0;

/// Bound on sub-steps in one call, so a huge `dt` cannot loop for ever.
const MAX_SUBSTEPS: usize = 100_000;
/// Bisection iterations for the throttle: 2^-60 of the request, far below a milliwatt.
const THROTTLE_ITERATIONS: usize = 60;

impl ThermalParams {
    pub fn new(
        heat_capacity_j_per_k: f64,
        radiator_area_m2: f64,
        emissivity: f64,
        absorptivity: f64,
        temp_limit_k: f64,
    ) -> Result<Self, ParamError> {
        Ok(ThermalParams {
            heat_capacity_j_per_k: positive("heat-capacity-j-per-k", heat_capacity_j_per_k)?,
            radiator_area_m2: positive("radiator-area-m2", radiator_area_m2)?,
            emissivity: unit_fraction("emissivity", emissivity)?,
            absorptivity: unit_fraction("absorptivity", absorptivity)?,
            temp_limit_k: within("temp-limit-k", temp_limit_k, 3.0, 1_000.0)?,
            min_temp_k: MIN_OPERATING_TEMP_K.min(temp_limit_k),
            heater_max_w: HEATER_MAX_W,
        })
    }

    /// Sets the heaters: the temperature they hold and the power they may draw.
    pub fn with_heater(mut self, min_temp_k: f64, heater_max_w: f64) -> Result<Self, ParamError> {
        self.min_temp_k = within("min-temp-k", min_temp_k, 3.0, self.temp_limit_k)?;
        self.heater_max_w = non_negative("heater-max-w", heater_max_w)?;
        Ok(self)
    }

    pub fn min_temp_k(&self) -> f64 {
        self.min_temp_k
    }
    pub fn heater_max_w(&self) -> f64 {
        self.heater_max_w
    }

    /// The least heater power in `[0, heater_max_w]` that keeps the temperature at or
    /// above the minimum at the end of a `dt_s` step (and so throughout it, the solution
    /// being monotone), given the other internal heat `base_w`; the maximum when even that
    /// is not enough.
    pub fn heater_w(&self, temp_k: f64, base_w: f64, env: &ThermalEnv, dt_s: f64) -> f64 {
        let warm = |h: f64| self.integrate(temp_k, base_w + h, env, dt_s) >= self.min_temp_k;
        if warm(0.0) {
            return 0.0;
        }
        if !warm(self.heater_max_w) {
            return self.heater_max_w;
        }
        let (mut lo, mut hi) = (0.0, self.heater_max_w);
        for _ in 0..THROTTLE_ITERATIONS {
            let mid = 0.5 * (lo + hi);
            if warm(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    }

    pub fn heat_capacity_j_per_k(&self) -> f64 {
        self.heat_capacity_j_per_k
    }
    pub fn radiator_area_m2(&self) -> f64 {
        self.radiator_area_m2
    }
    pub fn emissivity(&self) -> f64 {
        self.emissivity
    }
    pub fn absorptivity(&self) -> f64 {
        self.absorptivity
    }
    pub fn temp_limit_k(&self) -> f64 {
        self.temp_limit_k
    }

    /// Environmental heat absorbed by the radiator, W.
    pub fn absorbed_w(&self, env: &ThermalEnv) -> f64 {
        self.radiator_area_m2
            * (self.absorptivity * (env.solar_w_m2 + env.albedo_w_m2)
                + self.emissivity * env.earth_ir_w_m2)
    }

    /// Heat radiated at temperature `temp_k`, W.
    pub fn emitted_w(&self, temp_k: f64) -> f64 {
        self.emissivity * STEFAN_BOLTZMANN_W_M2_K4 * self.radiator_area_m2 * temp_k.powi(4)
    }

    /// Temperature at which internal heat `heat_w` balances the environment: the analytic
    /// steady state `((Q + Q_env) / (eps sigma A))^1/4`.
    pub fn equilibrium_temp_k(&self, heat_w: f64, env: &ThermalEnv) -> f64 {
        ((heat_w + self.absorbed_w(env))
            / (self.emissivity * STEFAN_BOLTZMANN_W_M2_K4 * self.radiator_area_m2))
            .powf(0.25)
    }

    /// Temperature after `dt_s` with constant internal heat and environment, by explicit
    /// Euler sub-steps short enough (a quarter of the linearised time constant) that the
    /// solution approaches equilibrium monotonically: the maximum over the step is at one of
    /// its ends.
    pub fn integrate(&self, temp_k: f64, heat_w: f64, env: &ThermalEnv, dt_s: f64) -> f64 {
        if dt_s <= 0.0 {
            return temp_k;
        }
        let q_in = heat_w + self.absorbed_w(env);
        let t_hot = temp_k.max(self.equilibrium_temp_k(heat_w, env)).max(1.0);
        let conductance_w_k = 4.0
            * self.emissivity
            * STEFAN_BOLTZMANN_W_M2_K4
            * self.radiator_area_m2
            * t_hot.powi(3);
        let h_max = 0.25 * self.heat_capacity_j_per_k / conductance_w_k;
        let n = ((dt_s / h_max).ceil() as usize).clamp(1, MAX_SUBSTEPS);
        let h = dt_s / n as f64;
        let mut t = temp_k;
        for _ in 0..n {
            t += h * (q_in - self.emitted_w(t)) / self.heat_capacity_j_per_k;
        }
        t
    }

    /// The largest payload heat in `[0, requested_w]` that keeps the temperature at or
    /// below the limit at the end of a `dt_s` step (and so throughout it, the solution being
    /// monotone), given the other internal heat `base_w`. 0 when even that is too hot.
    pub fn max_payload_heat_w(
        &self,
        temp_k: f64,
        base_w: f64,
        requested_w: f64,
        env: &ThermalEnv,
        dt_s: f64,
    ) -> f64 {
        let fits = |p: f64| self.integrate(temp_k, base_w + p, env, dt_s) <= self.temp_limit_k;
        if fits(requested_w) {
            return requested_w;
        }
        if !fits(0.0) {
            return 0.0;
        }
        let (mut lo, mut hi) = (0.0, requested_w);
        for _ in 0..THROTTLE_ITERATIONS {
            let mid = 0.5 * (lo + hi);
            if fits(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radiator_area_matches_hand_calculation() {
        // 1000 W at 300 K, eps 0.9, sink 0 K: sigma T^4 = 5.670374419e-8 x 8.1e9 = 459.30 W/m^2,
        // x 0.9 = 413.37 W/m^2, A = 1000 / 413.37 = 2.4191 m^2.
        let a = radiator_area_m2(1_000.0, 300.0, 0.0, 0.9).unwrap();
        assert!((a - 2.4191).abs() < 1e-4, "{a}");
        // Sink 250 K: T^4 - Ts^4 = 8.1e9 - 3.90625e9 = 4.19375e9 -> x 0.9 sigma = 214.02 W/m^2
        // -> 4.6724 m^2.
        let a = radiator_area_m2(1_000.0, 300.0, 250.0, 0.9).unwrap();
        assert!((a - 4.6724).abs() < 1e-4, "{a}");
        assert_eq!(
            radiator_area_m2(1_000.0, 200.0, 250.0, 0.9)
                .unwrap_err()
                .field,
            "radiator-temp-k"
        );
        assert_eq!(
            radiator_area_m2(1_000.0, 300.0, 0.0, 1.5)
                .unwrap_err()
                .field,
            "emissivity"
        );
        // The sink temperature of what the radiator absorbs gives back the same area.
        let env = ThermalEnv {
            solar_w_m2: 0.0,
            albedo_w_m2: 100.0,
            earth_ir_w_m2: 200.0,
        };
        let p = ThermalParams::new(1.0, 1.0, 0.85, 0.2, 400.0).unwrap();
        let ts = sink_temp_k(p.absorbed_w(&env), 0.85);
        let area = radiator_area_m2(1_000.0, 310.0, ts, 0.85).unwrap();
        let p = ThermalParams::new(1.0, area, 0.85, 0.2, 400.0).unwrap();
        assert!((p.equilibrium_temp_k(1_000.0, &env) - 310.0).abs() < 1e-9);
    }

    /// Constant power and environment: the integrated temperature converges to the analytic
    /// Stefan-Boltzmann steady state within 1 K (the tolerance; the Euler fixed point
    /// is the exact equilibrium, so the residual is what 10 time constants leave, ~1e-4 K).
    #[test]
    fn steady_state_converges_to_stefan_boltzmann() {
        let p = ThermalParams::new(200_000.0, 4.0, 0.85, 0.2, 1_000.0).unwrap();
        let env = ThermalEnv {
            solar_w_m2: 0.0,
            albedo_w_m2: 120.0,
            earth_ir_w_m2: 62.0,
        };
        let heat_w = 1_500.0;
        let analytic = ((heat_w + 4.0 * (0.2 * 120.0 + 0.85 * 62.0))
            / (0.85 * STEFAN_BOLTZMANN_W_M2_K4 * 4.0))
            .powf(0.25);
        for start_k in [150.0, 450.0] {
            let mut t = start_k;
            // Time constant C / (4 eps sigma A T^3) ~ 200 kJ/K / 21 W/K ~ 2.6 h; run 3 days.
            for _ in 0..(3 * 24 * 60) {
                t = p.integrate(t, heat_w, &env, 60.0);
            }
            assert!(
                (t - analytic).abs() < 1.0,
                "start {start_k} K: {t} K vs analytic {analytic} K"
            );
        }
        // Hand calculation: (1500 + 4 x (0.2 x 120 + 0.85 x 62)) / (0.85 sigma 4) = 9.371e9 K^4.
        assert!((analytic - 311.1).abs() < 0.1, "{analytic}");
    }

    #[test]
    fn throttle_holds_the_limit_in_a_hot_case() {
        // Hot case: direct sun on the radiator, a payload asking for far more than the
        // radiator can reject at the 330 K limit.
        let p = ThermalParams::new(50_000.0, 2.0, 0.85, 0.3, 330.0).unwrap();
        // Absorbed 2 x (0.3 x 500 + 0.85 x 150) = 555 W; at 330 K the radiator emits 1143 W,
        // so about 490 W of payload fits at steady state.
        let env = ThermalEnv {
            solar_w_m2: 400.0,
            albedo_w_m2: 100.0,
            earth_ir_w_m2: 150.0,
        };
        let mut t = 290.0;
        let mut throttled_steps = 0;
        for _ in 0..20_000 {
            let grant = p.max_payload_heat_w(t, 100.0, 2_000.0, &env, 10.0);
            if grant < 2_000.0 {
                throttled_steps += 1;
            }
            t = p.integrate(t, 100.0 + grant, &env, 10.0);
            assert!(t <= 330.0, "{t}");
        }
        assert!(
            throttled_steps > 10_000,
            "the case must actually throttle: {throttled_steps}"
        );
        assert!(
            t > 329.0,
            "it should run at the limit, not far below it: {t}"
        );
    }
}
