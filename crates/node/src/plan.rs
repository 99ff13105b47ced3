//! The compute-satellite design planner behind `tiandi plan`: sizes power, storage, heat
//! rejection and mass for a compute payload in a given orbit, prices the launch, and sets
//! the cost per delivered accelerator-hour beside a ground data centre of the same compute.
//!
//! Every output line carries an id and its formula; docs/plan.md explains each formula and
//! the source of each coefficient. The sizing is checked by stepping the sized satellite
//! through the worst sampled day with [`NodeState`].

use tiandi_orbit::walker::{
    WalkerDesign, WalkerKind, raan_for_ltan_deg, sun_synchronous_inclination_deg,
};
use tiandi_orbit::{Epoch, PropagationError, Satellite};

use crate::cells::ArrayBuild;
use crate::environment::{Environment, OrbitSurvey, survey_orbit};
use crate::error::{ParamError, non_negative, positive, proper_fraction, unit_fraction, within};
use crate::node::{Limit, NodeConfig, NodeState};
use crate::payload::Accelerator;
use crate::power::{Battery, CellType, Pointing, SOLAR_CONSTANT_W_M2, SolarArray};
use crate::radiation::SaaModel;
use crate::thermal::{STEFAN_BOLTZMANN_W_M2_K4, ThermalParams, radiator_area_m2, sink_temp_k};

/// Hours in a Julian year.
pub const HOURS_PER_YEAR: f64 = 8_766.0;
/// Exchange rate for the figures published in USD (the 2024-2025 range was 7.1-7.3).
pub const CNY_PER_USD: f64 = 7.2;

/// Which orbit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OrbitChoice {
    /// Circular at a given inclination and right ascension of the ascending node.
    Inclined { inclination_deg: f64, raan_deg: f64 },
    /// Circular sun-synchronous with a local time of ascending node (6.0 = dawn-dusk).
    SunSynchronous { ltan_hours: f64 },
}

/// How much compute.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ComputeTarget {
    Count(u32),
    /// Payload power (accelerators plus host share), W.
    PowerW(f64),
}

/// Everything the planner needs. `Default` holds the documented defaults (docs/plan.md).
#[derive(Clone, Debug, PartialEq)]
pub struct PlanInput {
    pub accelerator: &'static Accelerator,
    pub compute: ComputeTarget,
    pub altitude_km: f64,
    pub orbit: OrbitChoice,
    /// Start of life; the eclipse survey covers the year after it.
    pub epoch: Epoch,
    pub lifetime_years: f64,
    /// Shielded total ionizing dose, krad(Si) a year.
    pub dose_krad_per_year: f64,
    pub cell: CellType,
    pub cell_efficiency: Option<f64>,
    pub pointing: Pointing,
    /// A fixed array instead of a sized one.
    pub array_area_m2: Option<f64>,
    /// Rigid panels or a flexible blanket: picks the catalogue's areal mass.
    pub array_build: ArrayBuild,
    /// Areal mass overriding the catalogue's, kg/m^2.
    pub array_kg_per_m2: Option<f64>,
    /// Array cost overriding the catalogue's, USD per W at beginning of life.
    pub array_cost_usd_per_w: Option<f64>,
    /// Extra array area over the sampled worst orbit (covers orbits between samples).
    pub array_margin_fraction: f64,
    pub bus_power_w: f64,
    pub dod: f64,
    pub charge_efficiency: f64,
    pub discharge_efficiency: f64,
    pub battery_wh_per_kg: f64,
    pub safe_mode_reserve_h: f64,
    pub radiator_temp_k: f64,
    pub temp_limit_k: f64,
    pub emissivity: f64,
    pub absorptivity: f64,
    pub radiator_kg_per_m2: f64,
    pub compute_kg_per_kw: f64,
    pub structure_fraction: f64,
    pub margin_fraction: f64,
    pub specific_heat_j_per_kg_k: f64,
    pub thermal_mass_fraction: f64,
    pub launch_price_cny_per_kg: f64,
    pub spacecraft_cost_cny_per_kg: f64,
    pub accelerator_price_cny: f64,
    pub fault_recovery_s: f64,
    pub pue: f64,
    pub electricity_cny_per_kwh: f64,
    pub dc_capex_cny_per_kw: f64,
    /// Years between replacements of the ground's accelerators and hosts.
    pub hardware_refresh_years: f64,
    /// Orbits sampled for the survey, one every `survey_step_days`.
    pub survey_orbits: u32,
    pub survey_step_days: f64,
}

impl PlanInput {
    /// The documented defaults for an accelerator and target; every number is explained in
    /// docs/plan.md.
    pub fn new(accelerator: &'static Accelerator, compute: ComputeTarget) -> Self {
        PlanInput {
            accelerator,
            compute,
            altitude_km: 550.0,
            orbit: OrbitChoice::SunSynchronous { ltan_hours: 6.0 },
            epoch: Epoch::from_ymd_hms(2026, 1, 1, 0, 0, 0.0),
            lifetime_years: 5.0,
            dose_krad_per_year: crate::radiation::LEO_DOSE_KRAD_PER_YEAR,
            cell: CellType::GaAsTripleJunction,
            cell_efficiency: None,
            pointing: Pointing::SunTracking,
            array_area_m2: None,
            // Areal mass and cost from the cell catalogue (crate::cells).
            array_build: ArrayBuild::Flexible,
            array_kg_per_m2: None,
            array_cost_usd_per_w: None,
            // ASSUMED 10 % end-of-life power margin, the usual allowance in preliminary
            // design; here it also covers orbits that fall between survey samples.
            array_margin_fraction: 0.10,
            bus_power_w: 300.0,
            dod: crate::power::LEO_DOD_LIMIT,
            charge_efficiency: crate::power::LI_ION_EFFICIENCY,
            discharge_efficiency: crate::power::LI_ION_EFFICIENCY,
            // Space Li-ion packs: cells 150-250 Wh/kg (Knap et al. 2020), packs lower.
            battery_wh_per_kg: 150.0,
            safe_mode_reserve_h: 1.0,
            radiator_temp_k: 310.0,
            temp_limit_k: 318.0,
            // White paint / optical solar reflector end-of-life values (Gilmore 2002,
            // Appendix A: OSR eps 0.80-0.85, alpha 0.07 BOL rising to ~0.2 EOL).
            emissivity: 0.85,
            absorptivity: 0.20,
            // Conventional aluminium-ammonia heat-pipe radiators ~7 kg/m^2 (NASA SBIR
            // 91-1 09.08-6551B, Thermacore).
            radiator_kg_per_m2: 7.0,
            // NVIDIA DGX H100: 130.45 kg for 10.2 kW maximum system power = 12.8 kg/kW.
            compute_kg_per_kw: 130.45 / 10.2,
            structure_fraction: 0.30,
            margin_fraction: 0.15,
            // Aluminium 6061: 896 J/(kg K) (ASM handbook).
            specific_heat_j_per_kg_k: 896.0,
            thermal_mass_fraction: 0.5,
            launch_price_cny_per_kg: 70_000.0,
            // Mass-produced LEO spacecraft: Quilty Space estimates a Starlink V2 mini at
            // about USD 800,000 for 730 kg (2024), USD 1,100/kg, ~8,000 CNY/kg at 7.2 CNY
            // per USD. Counted on the non-compute mass (the accelerators are S3).
            spacecraft_cost_cny_per_kg: 8_000.0,
            accelerator_price_cny: 0.0,
            fault_recovery_s: 60.0,
            pue: 1.3,
            electricity_cny_per_kwh: 0.6,
            dc_capex_cny_per_kw: 50_000.0,
            // Servers' useful life: Microsoft (FY2022 10-K) and Alphabet (2023 10-K)
            // extended it from 4 to 6 years.
            hardware_refresh_years: 6.0,
            survey_orbits: 53,
            survey_step_days: 7.0,
        }
    }

    /// Wing-level areal mass: the override, or the catalogue's for the cell and build.
    pub fn array_kg_per_m2(&self) -> f64 {
        self.array_kg_per_m2
            .unwrap_or_else(|| self.cell.spec().kg_per_m2(self.array_build))
    }

    /// Array cost per W at beginning of life: the override, or the catalogue's.
    pub fn array_cost_usd_per_w(&self) -> f64 {
        self.array_cost_usd_per_w
            .unwrap_or(self.cell.spec().cost_usd_per_w)
    }

    fn validate(&self) -> Result<(), ParamError> {
        within("altitude-km", self.altitude_km, 160.0, 5_000.0)?;
        match self.orbit {
            OrbitChoice::Inclined {
                inclination_deg,
                raan_deg,
            } => {
                within("inclination-deg", inclination_deg, 0.0, 180.0)?;
                within("raan-deg", raan_deg, -360.0, 360.0)?;
            }
            OrbitChoice::SunSynchronous { ltan_hours } => {
                within("ltan", ltan_hours, 0.0, 24.0)?;
            }
        }
        if let ComputeTarget::PowerW(w) = self.compute {
            positive("compute-power-w", w)?;
        }
        if let ComputeTarget::Count(n) = self.compute {
            within("count", f64::from(n), 1.0, 1.0e6)?;
        }
        within("lifetime-years", self.lifetime_years, 0.01, 50.0)?;
        within("dose-krad-per-year", self.dose_krad_per_year, 0.0, 10_000.0)?;
        if let Some(e) = self.cell_efficiency {
            unit_fraction("cell-efficiency", e)?;
        }
        if let Some(a) = self.array_area_m2 {
            positive("array-area-m2", a)?;
        }
        if let Some(m) = self.array_kg_per_m2 {
            within("array-kg-per-m2", m, 1e-3, 1e3)?;
        }
        if let Some(c) = self.array_cost_usd_per_w {
            within("array-cost-usd-per-w", c, 0.0, 1e5)?;
        }
        within("array-margin", self.array_margin_fraction, 0.0, 10.0)?;
        non_negative("bus-power-w", self.bus_power_w)?;
        unit_fraction("dod", self.dod)?;
        unit_fraction("charge-efficiency", self.charge_efficiency)?;
        unit_fraction("discharge-efficiency", self.discharge_efficiency)?;
        positive("battery-wh-per-kg", self.battery_wh_per_kg)?;
        non_negative("safe-mode-reserve-h", self.safe_mode_reserve_h)?;
        within("radiator-temp-k", self.radiator_temp_k, 150.0, 600.0)?;
        within(
            "temp-limit-k",
            self.temp_limit_k,
            self.radiator_temp_k,
            700.0,
        )?;
        unit_fraction("emissivity", self.emissivity)?;
        unit_fraction("absorptivity", self.absorptivity)?;
        positive("radiator-kg-per-m2", self.radiator_kg_per_m2)?;
        positive("compute-kg-per-kw", self.compute_kg_per_kw)?;
        proper_fraction("structure-fraction", self.structure_fraction)?;
        within(
            "hardware-refresh-years",
            self.hardware_refresh_years,
            0.5,
            50.0,
        )?;
        within("margin-fraction", self.margin_fraction, 0.0, 1.0)?;
        positive("specific-heat-j-per-kg-k", self.specific_heat_j_per_kg_k)?;
        unit_fraction("thermal-mass-fraction", self.thermal_mass_fraction)?;
        non_negative("launch-price-cny-per-kg", self.launch_price_cny_per_kg)?;
        non_negative(
            "spacecraft-cost-cny-per-kg",
            self.spacecraft_cost_cny_per_kg,
        )?;
        non_negative("accelerator-price-cny", self.accelerator_price_cny)?;
        non_negative("fault-recovery-s", self.fault_recovery_s)?;
        within("pue", self.pue, 1.0, 5.0)?;
        non_negative("electricity-cny-per-kwh", self.electricity_cny_per_kwh)?;
        non_negative("dc-capex-cny-per-kw", self.dc_capex_cny_per_kw)?;
        within(
            "survey-orbits",
            f64::from(self.survey_orbits),
            1.0,
            10_000.0,
        )?;
        within("survey-step-days", self.survey_step_days, 0.0, 366.0)?;
        Ok(())
    }
}

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error("orbit: {0}")]
    Orbit(#[from] PropagationError),
}

/// One line of the plan: an id that docs/plan.md explains, a label, a value, a unit and the
/// formula that produced it. Lines are for display; code that needs a figure reads the
/// plan's fields.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanLine {
    pub id: &'static str,
    pub section: &'static str,
    pub label: &'static str,
    pub value: f64,
    pub unit: &'static str,
    pub formula: &'static str,
}

/// The orbit and what the year's survey found in it: lines O1-O7.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OrbitFigures {
    pub altitude_km: f64,
    pub inclination_deg: f64,
    /// Period of the worst sampled orbit.
    pub period_s: f64,
    pub mean_eclipse_fraction: f64,
    pub worst_eclipse_fraction: f64,
    pub longest_shadow_s: f64,
    /// Sampled orbits with any umbra / sampled orbits.
    pub fraction_with_umbra: f64,
}

/// The compute payload and the electrical load: lines C1-C8.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ComputeFigures {
    pub n_accelerators: f64,
    pub accelerator_max_power_w: f64,
    /// One accelerator with its host share.
    pub accelerator_system_power_w: f64,
    pub payload_power_w: f64,
    pub fp16_tflops_dense: f64,
    pub int8_tops_dense: f64,
    pub bus_power_w: f64,
    /// Payload plus bus.
    pub load_power_w: f64,
}

/// Solar array and battery: lines P1-P9.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PowerFigures {
    pub panel_efficiency_eol: f64,
    /// Energy the load needs over the orbit that needs the most array area.
    pub orbit_energy_wh: f64,
    pub array_area_needed_m2: f64,
    /// The sized area, or the one given.
    pub array_area_m2: f64,
    pub array_power_bol_w: f64,
    pub array_mass_kg: f64,
    pub battery_wh: f64,
    pub battery_mass_kg: f64,
    /// The array at the catalogue's (or the given) price per watt.
    pub array_cost_cny: f64,
}

/// Heat rejection: lines T1-T4.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThermalFigures {
    pub heat_w: f64,
    pub sink_temp_k: f64,
    pub radiator_area_m2: f64,
    pub radiator_mass_kg: f64,
}

/// Upsets and what they cost in availability, and total dose over the life: lines R1-R7.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RadiationFigures {
    pub mean_saa_multiplier: f64,
    pub upsets_per_accelerator_day: f64,
    pub upsets_per_satellite_day: f64,
    pub availability_fraction: f64,
    /// Dose at end of life, krad(Si).
    pub lifetime_dose_krad: f64,
    /// Years until the median device reaches its TID tolerance.
    pub years_to_tid_limit: f64,
    /// Devices past their tolerance at end of life.
    pub retired_fraction_eol: f64,
}

/// The mass budget: lines M1-M7 (the array, battery and radiator masses are in
/// [`PowerFigures`] and [`ThermalFigures`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MassFigures {
    pub compute_kg: f64,
    pub structure_kg: f64,
    pub margin_kg: f64,
    pub total_kg: f64,
}

/// The satellite's lifetime cost: lines S1-S6.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpaceCost {
    pub launch_cny: f64,
    pub manufacturing_cny: f64,
    pub accelerators_cny: f64,
    pub total_cny: f64,
    pub accelerator_hours: f64,
    pub cny_per_accelerator_hour: f64,
}

/// A ground data centre of the same compute over the same lifetime: lines G1-G8.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GroundCost {
    pub it_power_w: f64,
    pub capex_cny: f64,
    pub electricity_kwh: f64,
    pub electricity_cny: f64,
    /// The accelerators bought at the start and at each refresh.
    pub accelerators_cny: f64,
    pub total_cny: f64,
    pub accelerator_hours: f64,
    pub cny_per_accelerator_hour: f64,
    /// Times the ground's accelerators are replaced within the lifetime.
    pub refreshes: f64,
}

/// Result of stepping the sized satellite through the worst sampled day: lines V1-V3.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verification {
    pub start: Epoch,
    pub min_soc_fraction: f64,
    pub max_temp_k: f64,
    /// Payload energy granted / requested.
    pub delivered_fraction: f64,
    pub power_limited_s: f64,
    pub thermal_limited_s: f64,
    /// The design's temperature limit, K (check V2).
    pub temp_limit_k: f64,
    /// The battery's floor as a share of its capacity (check V1).
    pub soc_floor_fraction: f64,
}

/// Least share of the requested payload energy a feasible design delivers (check V3).
/// The sizing targets all of it; 1% covers the 10 s stepping of the verification run.
pub const MIN_DELIVERED_FRACTION: f64 = 0.99;

/// Margin on the temperature limit (check V2) for the 10 s stepping, K.
const TEMP_MARGIN_K: f64 = 0.5;

/// A check of the verification run that the design fails.
#[derive(Clone, Debug, PartialEq)]
pub struct FailedCheck {
    /// The plan line that shows it (V1, V2, V3).
    pub id: &'static str,
    pub message: String,
}

impl Verification {
    /// The checks this run fails; empty for a feasible design.
    pub fn failed_checks(&self) -> Vec<FailedCheck> {
        let mut out = Vec::new();
        if self.min_soc_fraction < self.soc_floor_fraction - 1e-9 {
            out.push(FailedCheck {
                id: "V1",
                message: format!(
                    "minimum state of charge {:.3} is under the battery's floor {:.3}",
                    self.min_soc_fraction, self.soc_floor_fraction
                ),
            });
        }
        if self.max_temp_k > self.temp_limit_k + TEMP_MARGIN_K {
            out.push(FailedCheck {
                id: "V2",
                message: format!(
                    "maximum temperature {:.1} K is above the limit {:.1} K",
                    self.max_temp_k, self.temp_limit_k
                ),
            });
        }
        if self.delivered_fraction.is_nan() || self.delivered_fraction < MIN_DELIVERED_FRACTION {
            out.push(FailedCheck {
                id: "V3",
                message: format!(
                    "payload energy delivered is {:.1}% of the request (at least {:.0}% needed; \
                     power-limited {:.0} s, thermally limited {:.0} s of the day)",
                    self.delivered_fraction * 100.0,
                    MIN_DELIVERED_FRACTION * 100.0,
                    self.power_limited_s,
                    self.thermal_limited_s
                ),
            });
        }
        out
    }
}

/// A sized design and its costs, one struct per section of the printed plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub orbit: OrbitFigures,
    pub compute: ComputeFigures,
    pub power: PowerFigures,
    pub thermal: ThermalFigures,
    pub radiation: RadiationFigures,
    pub mass: MassFigures,
    pub verification: Verification,
    pub space: SpaceCost,
    pub ground: GroundCost,
    pub survey: OrbitSurvey,
}

impl Plan {
    /// Space cost per accelerator-hour over ground cost per accelerator-hour (line X1).
    pub fn space_to_ground_cost_ratio(&self) -> f64 {
        self.space.cny_per_accelerator_hour / self.ground.cny_per_accelerator_hour
    }

    /// Every line in print order, with the id, label, unit and formula docs/plan.md
    /// explains.
    pub fn lines(&self) -> Vec<PlanLine> {
        let mut lines = Vec::new();
        lines.extend(self.orbit_lines());
        lines.extend(self.compute_lines());
        lines.extend(self.power_lines());
        lines.extend(self.thermal_lines());
        lines.extend(self.radiation_lines());
        lines.extend(self.mass_lines());
        lines.extend(self.verification_lines());
        lines.extend(self.space_lines());
        lines.extend(self.ground_lines());
        lines.push(line(
            "X1",
            "comparison",
            "space / ground cost per accelerator-hour",
            self.space_to_ground_cost_ratio(),
            "",
            "S6 / G8",
        ));
        lines
    }

    fn orbit_lines(&self) -> [PlanLine; 7] {
        let o = &self.orbit;
        let l = |id, label, value, unit, formula| line(id, "orbit", label, value, unit, formula);
        [
            l("O1", "altitude", o.altitude_km, "km", "input"),
            l(
                "O2",
                "inclination",
                o.inclination_deg,
                "deg",
                "input, or sun-synchronous: cos i = -2 a^2 dOmega/dt / (3 J2 R^2 n)",
            ),
            l(
                "O3",
                "period",
                o.period_s / 60.0,
                "min",
                "1440 / mean motion (rev/day)",
            ),
            l(
                "O4",
                "eclipse fraction, year mean",
                o.mean_eclipse_fraction,
                "",
                "mean over sampled orbits of integral(1 - sunlit) dt / T",
            ),
            l(
                "O5",
                "eclipse fraction, worst orbit",
                o.worst_eclipse_fraction,
                "",
                "max over sampled orbits",
            ),
            l(
                "O6",
                "longest shadow",
                o.longest_shadow_s / 60.0,
                "min",
                "max over passes of integral(1 - sunlit) dt",
            ),
            l(
                "O7",
                "orbits with umbra",
                o.fraction_with_umbra,
                "",
                "sampled orbits with any umbra / sampled orbits",
            ),
        ]
    }

    fn compute_lines(&self) -> [PlanLine; 8] {
        let c = &self.compute;
        let l = |id, label, value, unit, formula| line(id, "compute", label, value, unit, formula);
        [
            l(
                "C1",
                "accelerators",
                c.n_accelerators,
                "",
                "--count, or --compute-power-w / C3",
            ),
            l(
                "C2",
                "accelerator max power",
                c.accelerator_max_power_w,
                "W",
                "catalogue (datasheet)",
            ),
            l(
                "C3",
                "per-accelerator system power",
                c.accelerator_system_power_w,
                "W",
                "C2 x (1 + host overhead)",
            ),
            l("C4", "payload power", c.payload_power_w, "W", "C1 x C3"),
            l(
                "C5",
                "peak FP16 dense",
                c.fp16_tflops_dense,
                "TFLOPS",
                "C1 x catalogue FP16",
            ),
            l(
                "C6",
                "peak INT8 dense",
                c.int8_tops_dense,
                "TOPS",
                "C1 x catalogue INT8",
            ),
            l("C7", "bus power", c.bus_power_w, "W", "--bus-power-w"),
            l("C8", "total load", c.load_power_w, "W", "C4 + C7"),
        ]
    }

    fn power_lines(&self) -> [PlanLine; 9] {
        let p = &self.power;
        let l = |id, label, value, unit, formula| line(id, "power", label, value, unit, formula);
        [
            l(
                "P1",
                "panel efficiency, end of life",
                p.panel_efficiency_eol,
                "",
                "eta_cell x packing x (1 + k_T (T_array - 301 K)) x (1 - d)^L",
            ),
            l(
                "P2",
                "energy per orbit, worst orbit",
                p.orbit_energy_wh,
                "Wh",
                "C8 x (T - t_shadow + t_shadow / (eta_c eta_d))",
            ),
            l(
                "P3",
                "array area needed",
                p.array_area_needed_m2,
                "m2",
                "max over orbits of P2 / (sunlight Wh/m2 x P1) x (1 + array margin)",
            ),
            l(
                "P4",
                "array area used",
                p.array_area_m2,
                "m2",
                "P3, or --array-area-m2",
            ),
            l(
                "P5",
                "array power at beginning of life",
                p.array_power_bol_w,
                "W",
                "1361 W/m2 x P4 x eta_cell x packing",
            ),
            l(
                "P6",
                "array mass",
                p.array_mass_kg,
                "kg",
                "P4 x array kg/m2",
            ),
            l(
                "P7",
                "battery capacity",
                p.battery_wh,
                "Wh",
                "max(C8 x O6, C7 x reserve h) / (DoD x eta_d)",
            ),
            l(
                "P8",
                "battery mass",
                p.battery_mass_kg,
                "kg",
                "P7 / battery Wh/kg",
            ),
            l(
                "P9",
                "solar array cost",
                p.array_cost_cny,
                "CNY",
                "P5 x array USD/W x 7.2 CNY/USD",
            ),
        ]
    }

    fn thermal_lines(&self) -> [PlanLine; 4] {
        let t = &self.thermal;
        let l = |id, label, value, unit, formula| line(id, "thermal", label, value, unit, formula);
        [
            l(
                "T1",
                "heat to reject",
                t.heat_w,
                "W",
                "C8 (all electrical load ends as heat)",
            ),
            l(
                "T2",
                "radiator sink temperature",
                t.sink_temp_k,
                "K",
                "((alpha q_albedo,max + eps q_IR,max) / (eps sigma))^(1/4)",
            ),
            l(
                "T3",
                "radiator area",
                t.radiator_area_m2,
                "m2",
                "T1 / (eps sigma (T_rad^4 - T2^4))",
            ),
            l(
                "T4",
                "radiator mass",
                t.radiator_mass_kg,
                "kg",
                "T3 x radiator kg/m2",
            ),
        ]
    }

    fn radiation_lines(&self) -> [PlanLine; 7] {
        let r = &self.radiation;
        let l =
            |id, label, value, unit, formula| line(id, "radiation", label, value, unit, formula);
        [
            l(
                "R1",
                "mean SAA multiplier",
                r.mean_saa_multiplier,
                "",
                "time average of 1 + (peak - 1) w(lat, lon) e^((h - 550)/200)",
            ),
            l(
                "R2",
                "upsets per accelerator-day",
                r.upsets_per_accelerator_day,
                "1/day",
                "catalogue rate x R1",
            ),
            l(
                "R3",
                "upsets per satellite-day",
                r.upsets_per_satellite_day,
                "1/day",
                "R2 x C1",
            ),
            l(
                "R4",
                "availability after upsets",
                r.availability_fraction,
                "",
                "1 - R2 x recovery s / 86400",
            ),
            l(
                "R5",
                "total ionizing dose at end of life",
                r.lifetime_dose_krad,
                "krad(Si)",
                "dose rate x lifetime",
            ),
            l(
                "R6",
                "years to the device TID tolerance",
                r.years_to_tid_limit,
                "years",
                "catalogue tolerance / dose rate",
            ),
            l(
                "R7",
                "devices retired by dose at end of life",
                r.retired_fraction_eol,
                "",
                "Phi(ln(R5 / tolerance) / 0.3)",
            ),
        ]
    }

    fn mass_lines(&self) -> [PlanLine; 7] {
        let m = &self.mass;
        let l = |id, label, value, unit, formula| line(id, "mass", label, value, unit, formula);
        [
            l(
                "M1",
                "compute payload",
                m.compute_kg,
                "kg",
                "C4 / 1000 x compute kg/kW",
            ),
            l("M2", "solar array", self.power.array_mass_kg, "kg", "P6"),
            l("M3", "battery", self.power.battery_mass_kg, "kg", "P8"),
            l("M4", "radiator", self.thermal.radiator_mass_kg, "kg", "T4"),
            l(
                "M5",
                "structure and bus",
                m.structure_kg,
                "kg",
                "(M1 + M2 + M3 + M4) x f_s / (1 - f_s)",
            ),
            l(
                "M6",
                "margin",
                m.margin_kg,
                "kg",
                "(M1 + ... + M5) x margin",
            ),
            l(
                "M7",
                "total launch mass",
                m.total_kg,
                "kg",
                "M1 + M2 + M3 + M4 + M5 + M6",
            ),
        ]
    }

    fn verification_lines(&self) -> [PlanLine; 3] {
        let v = &self.verification;
        let l =
            |id, label, value, unit, formula| line(id, "verification", label, value, unit, formula);
        [
            l(
                "V1",
                "minimum state of charge",
                v.min_soc_fraction,
                "",
                "worst sampled day stepped at 10 s, end of life",
            ),
            l("V2", "maximum temperature", v.max_temp_k, "K", "same run"),
            l(
                "V3",
                "payload energy delivered",
                v.delivered_fraction,
                "",
                "granted / requested payload energy, same run",
            ),
        ]
    }

    fn space_lines(&self) -> [PlanLine; 6] {
        let s = &self.space;
        let l = |id, label, value, unit, formula| line(id, "space", label, value, unit, formula);
        [
            l(
                "S1",
                "launch cost",
                s.launch_cny,
                "CNY",
                "M7 x launch price",
            ),
            l(
                "S2",
                "spacecraft manufacturing",
                s.manufacturing_cny,
                "CNY",
                "(M7 - M1 - M2) x spacecraft CNY/kg + P9",
            ),
            l(
                "S3",
                "accelerators",
                s.accelerators_cny,
                "CNY",
                "C1 x accelerator price",
            ),
            l("S4", "total cost", s.total_cny, "CNY", "S1 + S2 + S3"),
            l(
                "S5",
                "delivered accelerator-hours",
                s.accelerator_hours,
                "h",
                "C1 x lifetime x 8766 h x R4 x V3",
            ),
            l(
                "S6",
                "cost per accelerator-hour",
                s.cny_per_accelerator_hour,
                "CNY/h",
                "S4 / S5",
            ),
        ]
    }

    fn ground_lines(&self) -> [PlanLine; 9] {
        let g = &self.ground;
        let l = |id, label, value, unit, formula| line(id, "ground", label, value, unit, formula);
        [
            l("G1", "IT power", g.it_power_w, "W", "C4"),
            l(
                "G2",
                "data-centre capex",
                g.capex_cny,
                "CNY",
                "G1 / 1000 x capex CNY/kW",
            ),
            l(
                "G3",
                "electricity",
                g.electricity_kwh,
                "kWh",
                "G1 / 1000 x PUE x lifetime x 8766 h",
            ),
            l(
                "G4",
                "electricity cost",
                g.electricity_cny,
                "CNY",
                "G3 x CNY/kWh",
            ),
            l(
                "G5",
                "accelerators, with refreshes",
                g.accelerators_cny,
                "CNY",
                "S3 x (1 + G9)",
            ),
            l("G6", "total cost", g.total_cny, "CNY", "G2 + G4 + G5"),
            l(
                "G7",
                "delivered accelerator-hours",
                g.accelerator_hours,
                "h",
                "C1 x lifetime x 8766 h",
            ),
            l(
                "G8",
                "cost per accelerator-hour",
                g.cny_per_accelerator_hour,
                "CNY/h",
                "G6 / G7",
            ),
            l(
                "G9",
                "hardware refreshes within the lifetime",
                g.refreshes,
                "",
                "ceil(lifetime / refresh years) - 1",
            ),
        ]
    }
}

/// One plan line; shared with the fleet's lines (`crate::fleet`).
pub(crate) fn line(
    id: &'static str,
    section: &'static str,
    label: &'static str,
    value: f64,
    unit: &'static str,
    formula: &'static str,
) -> PlanLine {
    PlanLine {
        id,
        section,
        label,
        value,
        unit,
        formula,
    }
}

/// Verification step, s: short against an eclipse (~35 min) and the thermal time constant.
const VERIFY_STEP_S: f64 = 10.0;
/// Survey sampling step, s.
const SURVEY_STEP_S: f64 = 10.0;

fn satellite(input: &PlanInput) -> Result<(Satellite, f64), PlanError> {
    let (inclination_deg, raan_deg) = match input.orbit {
        OrbitChoice::Inclined {
            inclination_deg,
            raan_deg,
        } => (inclination_deg, raan_deg),
        OrbitChoice::SunSynchronous { ltan_hours } => {
            let i = sun_synchronous_inclination_deg(input.altitude_km).ok_or_else(|| {
                ParamError::new(
                    "altitude-km",
                    input.altitude_km,
                    "low enough for a sun-synchronous orbit (< ~5970 km)",
                )
            })?;
            (i, raan_for_ltan_deg(input.epoch, ltan_hours))
        }
    };
    let design = WalkerDesign {
        kind: WalkerKind::Delta,
        n_planes: 1,
        sats_per_plane: 1,
        phasing: 0,
        altitude_km: input.altitude_km,
        inclination_deg,
        epoch: input.epoch,
        raan_offset_deg: raan_deg,
        first_norad_id: 99_000,
        name_prefix: "PLAN".into(),
    };
    let elements = design
        .elements()
        .map_err(|e| ParamError::new(e.field, e.value, e.reason))?
        .pop()
        .expect("a 1x1 design has one satellite");
    Ok((Satellite::new(elements)?, inclination_deg))
}

/// Sizes the satellite and prices it: one function per section of the plan, in the order
/// each needs the ones before.
pub fn plan(input: &PlanInput) -> Result<Plan, PlanError> {
    input.validate()?;
    let (sat, inclination_deg) = satellite(input)?;
    let survey = survey_orbit(
        &sat,
        input.epoch,
        input.survey_orbits,
        input.survey_step_days,
        SURVEY_STEP_S,
        input.pointing,
        &SaaModel::default(),
    )?;
    let orbit = orbit_figures(input, inclination_deg, &survey);
    let compute = compute_figures(input);
    let power = size_power(input, &compute, &survey)?;
    let thermal = size_thermal(input, &compute, &survey)?;
    let mass = mass_budget(input, &compute, &power, &thermal);
    let radiation = radiation_figures(input, &compute, &survey);
    // Verification: step the sized satellite, at end of life, through the worst day.
    let verification = verify(
        &sat,
        sized_node(input, &compute, &power, &thermal, &mass)?,
        survey.worst_eclipse().start,
        input.lifetime_years,
        input.radiator_temp_k,
    )?;
    let space = space_cost(input, &compute, &power, &mass, &radiation, &verification);
    let ground = ground_cost(input, &compute);
    Ok(Plan {
        orbit,
        compute,
        power,
        thermal,
        radiation,
        mass,
        verification,
        space,
        ground,
        survey,
    })
}

fn orbit_figures(input: &PlanInput, inclination_deg: f64, survey: &OrbitSurvey) -> OrbitFigures {
    let worst = survey.worst_eclipse();
    OrbitFigures {
        altitude_km: input.altitude_km,
        inclination_deg,
        period_s: worst.period_s,
        mean_eclipse_fraction: survey.mean_eclipse_fraction(),
        worst_eclipse_fraction: worst.eclipse_fraction(),
        longest_shadow_s: survey.max_longest_shadow_s(),
        fraction_with_umbra: survey.fraction_with_umbra(),
    }
}

fn compute_figures(input: &PlanInput) -> ComputeFigures {
    let acc = input.accelerator;
    let n_acc = match input.compute {
        ComputeTarget::Count(n) => f64::from(n),
        ComputeTarget::PowerW(w) => w / acc.system_power_w(),
    };
    let payload_w = n_acc * acc.system_power_w();
    ComputeFigures {
        n_accelerators: n_acc,
        accelerator_max_power_w: acc.max_power_w,
        accelerator_system_power_w: acc.system_power_w(),
        payload_power_w: payload_w,
        fp16_tflops_dense: n_acc * acc.fp16_tflops_dense,
        int8_tops_dense: n_acc * acc.int8_tops_dense,
        bus_power_w: input.bus_power_w,
        load_power_w: payload_w + input.bus_power_w,
    }
}

/// Array sized on the sampled orbit that needs the most area at end of life; battery for
/// the longest shadow at full load, or the bus safe-mode reserve.
fn size_power(
    input: &PlanInput,
    compute: &ComputeFigures,
    survey: &OrbitSurvey,
) -> Result<PowerFigures, PlanError> {
    let load_w = compute.load_power_w;
    let probe = SolarArray::new(1.0, input.cell, input.cell_efficiency, input.pointing)?;
    let eta_eol = probe.panel_efficiency(input.lifetime_years);
    let round_trip = input.charge_efficiency * input.discharge_efficiency;
    let need_wh = |o: &crate::environment::OrbitStats| {
        load_w * ((o.period_s - o.shadow_s) + o.shadow_s / round_trip) / 3_600.0
    };
    let (area_needed_m2, energy_need_wh) = survey
        .orbits
        .iter()
        .map(|o| {
            (
                need_wh(o) / (o.light_wh_per_m2 * eta_eol).max(f64::MIN_POSITIVE),
                need_wh(o),
            )
        })
        .fold((0.0, 0.0), |acc, x| if x.0 > acc.0 { x } else { acc });
    let area_needed_m2 = area_needed_m2 * (1.0 + input.array_margin_fraction);
    if !area_needed_m2.is_finite() {
        return Err(ParamError::new(
            "pointing",
            input.pointing.key(),
            "a pointing that sees the Sun in this orbit",
        )
        .into());
    }
    let area_m2 = input.array_area_m2.unwrap_or(area_needed_m2);

    let eclipse_wh = load_w * survey.max_longest_shadow_s() / 3_600.0;
    let reserve_wh = input.bus_power_w * input.safe_mode_reserve_h;
    let battery_wh = eclipse_wh.max(reserve_wh) / (input.dod * input.discharge_efficiency);
    let array_power_bol_w =
        SOLAR_CONSTANT_W_M2 * area_m2 * probe.efficiency_bol() * probe.packing_factor();
    Ok(PowerFigures {
        panel_efficiency_eol: eta_eol,
        orbit_energy_wh: energy_need_wh,
        array_area_needed_m2: area_needed_m2,
        array_area_m2: area_m2,
        array_power_bol_w,
        array_mass_kg: area_m2 * input.array_kg_per_m2(),
        battery_wh,
        battery_mass_kg: battery_wh / input.battery_wh_per_kg,
        array_cost_cny: array_power_bol_w * input.array_cost_usd_per_w() * CNY_PER_USD,
    })
}

/// Radiator for the whole electrical load at the design temperature, against the hottest
/// sampled environment.
fn size_thermal(
    input: &PlanInput,
    compute: &ComputeFigures,
    survey: &OrbitSurvey,
) -> Result<ThermalFigures, PlanError> {
    let max_albedo = survey
        .orbits
        .iter()
        .map(|o| o.max_albedo_w_m2)
        .fold(0.0, f64::max);
    let max_ir = survey
        .orbits
        .iter()
        .map(|o| o.max_earth_ir_w_m2)
        .fold(0.0, f64::max);
    let absorbed_w_m2 = input.absorptivity * max_albedo + input.emissivity * max_ir;
    let sink_k = sink_temp_k(absorbed_w_m2, input.emissivity);
    let heat_w = compute.load_power_w;
    let radiator_m2 = radiator_area_m2(heat_w, input.radiator_temp_k, sink_k, input.emissivity)?;
    Ok(ThermalFigures {
        heat_w,
        sink_temp_k: sink_k,
        radiator_area_m2: radiator_m2,
        radiator_mass_kg: radiator_m2 * input.radiator_kg_per_m2,
    })
}

fn mass_budget(
    input: &PlanInput,
    compute: &ComputeFigures,
    power: &PowerFigures,
    thermal: &ThermalFigures,
) -> MassFigures {
    let compute_kg = compute.payload_power_w / 1_000.0 * input.compute_kg_per_kw;
    let subsystems_kg =
        compute_kg + power.array_mass_kg + power.battery_mass_kg + thermal.radiator_mass_kg;
    let structure_kg = subsystems_kg * input.structure_fraction / (1.0 - input.structure_fraction);
    let margin_kg = (subsystems_kg + structure_kg) * input.margin_fraction;
    MassFigures {
        compute_kg,
        structure_kg,
        margin_kg,
        total_kg: subsystems_kg + structure_kg + margin_kg,
    }
}

fn radiation_figures(
    input: &PlanInput,
    compute: &ComputeFigures,
    survey: &OrbitSurvey,
) -> RadiationFigures {
    let saa_mult = survey.mean_saa_multiplier();
    let upsets_per_acc_day = input.accelerator.upsets_per_device_day * saa_mult;
    let lifetime_dose_krad = input.dose_krad_per_year * input.lifetime_years;
    let tolerance = input.accelerator.tid_tolerance_krad;
    RadiationFigures {
        mean_saa_multiplier: saa_mult,
        upsets_per_accelerator_day: upsets_per_acc_day,
        upsets_per_satellite_day: upsets_per_acc_day * compute.n_accelerators,
        availability_fraction: (1.0 - upsets_per_acc_day * input.fault_recovery_s / 86_400.0)
            .max(0.0),
        lifetime_dose_krad,
        years_to_tid_limit: if input.dose_krad_per_year > 0.0 {
            tolerance / input.dose_krad_per_year
        } else {
            f64::INFINITY
        },
        retired_fraction_eol: crate::radiation::fraction_retired(
            lifetime_dose_krad,
            tolerance,
            crate::radiation::TID_SPREAD_SIGMA,
        ),
    }
}

/// The sized satellite as the node model runs it.
fn sized_node(
    input: &PlanInput,
    compute: &ComputeFigures,
    power: &PowerFigures,
    thermal: &ThermalFigures,
    mass: &MassFigures,
) -> Result<NodeConfig, PlanError> {
    let thermal = ThermalParams::new(
        mass.total_kg * input.specific_heat_j_per_kg_k * input.thermal_mass_fraction,
        thermal.radiator_area_m2,
        input.emissivity,
        input.absorptivity,
        input.temp_limit_k,
    )?;
    Ok(NodeConfig {
        accelerator: input.accelerator,
        n_accelerators: compute.n_accelerators,
        array: SolarArray::new(
            power.array_area_m2,
            input.cell,
            input.cell_efficiency,
            input.pointing,
        )?,
        battery: Battery::new(
            power.battery_wh,
            input.dod,
            input.charge_efficiency,
            input.discharge_efficiency,
        )?,
        bus_power_w: input.bus_power_w,
        thermal,
    })
}

fn space_cost(
    input: &PlanInput,
    compute: &ComputeFigures,
    power: &PowerFigures,
    mass: &MassFigures,
    radiation: &RadiationFigures,
    verification: &Verification,
) -> SpaceCost {
    let n_acc = compute.n_accelerators;
    let hours = input.lifetime_years * HOURS_PER_YEAR;
    let launch_cny = mass.total_kg * input.launch_price_cny_per_kg;
    let manufacturing_cny = (mass.total_kg - mass.compute_kg - power.array_mass_kg)
        * input.spacecraft_cost_cny_per_kg
        + power.array_cost_cny;
    let accelerators_cny = n_acc * input.accelerator_price_cny;
    let total_cny = launch_cny + manufacturing_cny + accelerators_cny;
    let accelerator_hours =
        n_acc * hours * radiation.availability_fraction * verification.delivered_fraction;
    SpaceCost {
        launch_cny,
        manufacturing_cny,
        accelerators_cny,
        total_cny,
        accelerator_hours,
        cny_per_accelerator_hour: total_cny / accelerator_hours.max(f64::MIN_POSITIVE),
    }
}

fn ground_cost(input: &PlanInput, compute: &ComputeFigures) -> GroundCost {
    let n_acc = compute.n_accelerators;
    let hours = input.lifetime_years * HOURS_PER_YEAR;
    let it_kw = compute.payload_power_w / 1_000.0;
    let capex_cny = it_kw * input.dc_capex_cny_per_kw;
    let electricity_kwh = it_kw * input.pue * hours;
    let electricity_cny = electricity_kwh * input.electricity_cny_per_kwh;
    let refreshes = ((input.lifetime_years / input.hardware_refresh_years) - 1e-9)
        .ceil()
        .max(1.0)
        - 1.0;
    let accelerators_cny = n_acc * input.accelerator_price_cny * (1.0 + refreshes);
    let total_cny = capex_cny + electricity_cny + accelerators_cny;
    let accelerator_hours = n_acc * hours;
    GroundCost {
        it_power_w: compute.payload_power_w,
        capex_cny,
        electricity_kwh,
        electricity_cny,
        accelerators_cny,
        total_cny,
        accelerator_hours,
        cny_per_accelerator_hour: total_cny / accelerator_hours,
        refreshes,
    }
}

/// Steps the design through one day from `start` at full requested payload power.
fn verify(
    sat: &Satellite,
    config: NodeConfig,
    start: Epoch,
    age_years: f64,
    initial_temp_k: f64,
) -> Result<Verification, PropagationError> {
    let requested_w = config.payload_max_w();
    let capacity_wh = config.battery.capacity_wh();
    let temp_limit_k = config.thermal.temp_limit_k();
    let soc_floor_fraction = if capacity_wh > 0.0 {
        config.battery.min_soc_wh() / capacity_wh
    } else {
        0.0
    };
    let mut node =
        NodeState::new(config, 1.0, initial_temp_k, age_years).expect("validated design");
    let n_steps = (86_400.0 / VERIFY_STEP_S) as usize;
    let mut v = Verification {
        start,
        min_soc_fraction: 1.0,
        max_temp_k: initial_temp_k,
        delivered_fraction: 0.0,
        power_limited_s: 0.0,
        thermal_limited_s: 0.0,
        temp_limit_k,
        soc_floor_fraction,
    };
    let (mut granted_wh, mut requested_wh) = (0.0, 0.0);
    for k in 0..n_steps {
        let t = start.add_s_f64((k as f64 + 0.5) * VERIFY_STEP_S);
        let env = Environment::at(sat, t)?;
        let r = node.step(VERIFY_STEP_S, &env, requested_w);
        granted_wh += r.granted_w * VERIFY_STEP_S / 3_600.0;
        requested_wh += r.requested_w * VERIFY_STEP_S / 3_600.0;
        if capacity_wh > 0.0 {
            v.min_soc_fraction = v.min_soc_fraction.min(r.soc_wh / capacity_wh);
        }
        v.max_temp_k = v.max_temp_k.max(r.temp_k);
        match r.limit {
            Limit::Power => v.power_limited_s += VERIFY_STEP_S,
            Limit::Thermal => v.thermal_limited_s += VERIFY_STEP_S,
            Limit::None => {}
        }
    }
    v.delivered_fraction = if requested_wh > 0.0 {
        granted_wh / requested_wh
    } else {
        1.0
    };
    Ok(v)
}

/// Analytic check used by docs and tests: emissive power of a radiator, W/m^2.
pub fn radiator_flux_w_m2(temp_k: f64, sink_k: f64, emissivity: f64) -> f64 {
    emissivity * STEFAN_BOLTZMANN_W_M2_K4 * (temp_k.powi(4) - sink_k.powi(4))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::accelerator;

    /// 8 H100 in a 550 km dawn-dusk orbit: every total is the sum of its parts, every cost is
    /// quantity x price, and the sized satellite passes its own verification run.
    #[test]
    fn eight_h100_dawn_dusk_breakdown_is_consistent() {
        let input = PlanInput::new(accelerator("h100").unwrap(), ComputeTarget::Count(8));
        let p = plan(&input).unwrap();
        let (c, pw, t, m) = (&p.compute, &p.power, &p.thermal, &p.mass);
        // Relative tolerance for re-deriving a line from others: only rounding differs.
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
        assert!(close(
            c.payload_power_w,
            8.0 * 700.0 * (1.0 + SERVER_OVERHEAD)
        ));
        assert!(close(c.load_power_w, c.payload_power_w + 300.0));
        let subsystems_kg =
            m.compute_kg + pw.array_mass_kg + pw.battery_mass_kg + t.radiator_mass_kg;
        assert!(close(
            m.total_kg,
            subsystems_kg + m.structure_kg + m.margin_kg
        ));
        assert!(close(pw.array_mass_kg, pw.array_area_m2 * 2.45));
        assert!(close(pw.battery_mass_kg, pw.battery_wh / 150.0));
        assert!(close(t.radiator_mass_kg, t.radiator_area_m2 * 7.0));
        assert!(close(m.structure_kg, subsystems_kg * 0.3 / 0.7));
        assert!(close(p.space.launch_cny, m.total_kg * 70_000.0));
        assert!(close(
            p.space.cny_per_accelerator_hour,
            p.space.total_cny / p.space.accelerator_hours
        ));
        assert!(close(
            p.ground.electricity_cny,
            c.payload_power_w / 1_000.0 * 1.3 * 5.0 * 8_766.0 * 0.6
        ));
        assert!(close(
            p.ground.cny_per_accelerator_hour,
            p.ground.total_cny / p.ground.accelerator_hours
        ));
        assert!(close(
            t.radiator_area_m2 * radiator_flux_w_m2(310.0, t.sink_temp_k, 0.85),
            t.heat_w
        ));
        // Dawn-dusk: no umbra on most sampled orbits; the year mean cannot exceed the worst
        // orbit's share times the share of orbits with any shadow (penumbra-only orbits
        // aside, which the 1 % allowance covers).
        let o = &p.orbit;
        assert!(o.fraction_with_umbra < 0.5, "{}", o.fraction_with_umbra);
        assert!(
            o.mean_eclipse_fraction <= o.worst_eclipse_fraction * o.fraction_with_umbra + 0.01,
            "{o:?}"
        );
        assert!(
            p.radiation.mean_saa_multiplier > 1.0,
            "the year's samples must cross the SAA: {}",
            p.radiation.mean_saa_multiplier
        );
        assert!((o.inclination_deg - 97.59).abs() < 0.05);
        // The sized design carries its full load through the worst day within its limits.
        let v = &p.verification;
        assert!(v.delivered_fraction > 0.999, "{v:?}");
        assert!(v.min_soc_fraction >= 1.0 - 0.3 - 1e-9, "{v:?}");
        assert!(v.max_temp_k <= 318.0 + 1e-9, "{v:?}");
    }

    const SERVER_OVERHEAD: f64 = crate::payload::SERVER_HOST_OVERHEAD;

    /// The printed lines are the fields: ids in documented order, each value the field's
    /// (unit conversions aside), and the ratio X1 = S6 / G8.
    #[test]
    fn lines_show_the_fields() {
        let mut input = PlanInput::new(accelerator("orin").unwrap(), ComputeTarget::Count(4));
        input.survey_orbits = 2;
        let p = plan(&input).unwrap();
        let lines = p.lines();
        let ids: Vec<&str> = lines.iter().map(|l| l.id).collect();
        let sections = [
            ("O", 7),
            ("C", 8),
            ("P", 9),
            ("T", 4),
            ("R", 7),
            ("M", 7),
            ("V", 3),
            ("S", 6),
            ("G", 9),
            ("X", 1),
        ];
        let expected: Vec<String> = sections
            .iter()
            .flat_map(|(s, n)| (1..=*n).map(move |k| format!("{s}{k}")))
            .collect();
        assert_eq!(ids, expected);
        let value = |id: &str| lines.iter().find(|l| l.id == id).map(|l| l.value);
        assert_eq!(value("O3"), Some(p.orbit.period_s / 60.0));
        assert_eq!(value("P4"), Some(p.power.array_area_m2));
        assert_eq!(value("P7"), Some(p.power.battery_wh));
        assert_eq!(value("T3"), Some(p.thermal.radiator_area_m2));
        assert_eq!(value("M2"), Some(p.power.array_mass_kg));
        assert_eq!(value("P9"), Some(p.power.array_cost_cny));
        assert_eq!(value("M7"), Some(p.mass.total_kg));
        assert_eq!(value("G5"), Some(p.space.accelerators_cny));
        assert_eq!(
            value("X1"),
            Some(p.space.cny_per_accelerator_hour / p.ground.cny_per_accelerator_hour)
        );
    }

    #[test]
    fn bad_inputs_name_the_field() {
        let mut input = PlanInput::new(accelerator("orin").unwrap(), ComputeTarget::Count(4));
        input.cell_efficiency = Some(1.3);
        assert!(matches!(plan(&input), Err(PlanError::Param(e)) if e.field == "cell-efficiency"));
        let mut input = PlanInput::new(accelerator("orin").unwrap(), ComputeTarget::Count(4));
        input.array_area_m2 = Some(-2.0);
        assert!(matches!(plan(&input), Err(PlanError::Param(e)) if e.field == "array-area-m2"));
        let mut input = PlanInput::new(accelerator("orin").unwrap(), ComputeTarget::PowerW(-5.0));
        input.survey_orbits = 2;
        assert!(matches!(plan(&input), Err(PlanError::Param(e)) if e.field == "compute-power-w"));
    }

    #[test]
    fn an_undersized_array_shows_in_the_verification() {
        let mut input = PlanInput::new(accelerator("orin").unwrap(), ComputeTarget::Count(4));
        input.orbit = OrbitChoice::Inclined {
            inclination_deg: 53.0,
            raan_deg: 0.0,
        };
        input.survey_orbits = 4;
        input.survey_step_days = 30.0;
        let sized = plan(&input).unwrap();
        assert!(
            sized.verification.delivered_fraction > 0.999,
            "{:?}",
            sized.verification
        );
        input.array_area_m2 = Some(sized.power.array_area_needed_m2 * 0.5);
        let small = plan(&input).unwrap();
        assert!(
            small.verification.delivered_fraction < 0.9,
            "{:?}",
            small.verification
        );
        assert!(small.verification.power_limited_s > 0.0);
    }
}
