//! Electrical power: solar array (cell type, temperature, degradation, pointing), battery
//! (capacity, depth-of-discharge limit, charge and discharge efficiency) and the energy
//! bookkeeping of one time step.
//!
//! Bookkeeping identity, exact up to rounding in every step:
//! `collected = served load + conversion losses + stored change + curtailed`.
//! The battery never goes below `capacity x (1 - DoD limit)` and the payload never draws
//! more than the array plus the usable battery energy can supply after the bus load.

use crate::error::{ParamError, non_negative, positive, unit_fraction, within};

/// Total solar irradiance at 1 AU, W/m^2 (Kopp & Lean 2011, Geophys. Res. Lett. 38,
/// L01706: 1360.8 +- 0.5 W/m^2).
pub const SOLAR_CONSTANT_W_M2: f64 = 1_361.0;
/// Reference temperature of space-cell efficiency ratings: 28 C, AM0 (ISO 15387:2005).
pub const CELL_REFERENCE_TEMP_K: f64 = 301.15;
/// Seconds per hour, for W x s -> Wh.
const S_PER_H: f64 = 3_600.0;

/// Photovoltaic cell technology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellType {
    Silicon,
    GaAsTripleJunction,
    PerovskiteSiliconTandem,
}

impl CellType {
    pub const ALL: [CellType; 3] = [
        CellType::Silicon,
        CellType::GaAsTripleJunction,
        CellType::PerovskiteSiliconTandem,
    ];

    pub fn parse(text: &str) -> Result<Self, ParamError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "si" | "silicon" => Ok(CellType::Silicon),
            "gaas" | "tj" | "triple-junction" => Ok(CellType::GaAsTripleJunction),
            "tandem" | "perovskite" | "perovskite-si" => Ok(CellType::PerovskiteSiliconTandem),
            _ => Err(ParamError::new(
                "cell",
                format!("{text:?}"),
                "one of silicon, gaas, tandem",
            )),
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            CellType::Silicon => "silicon",
            CellType::GaAsTripleJunction => "gaas",
            CellType::PerovskiteSiliconTandem => "tandem",
        }
    }

    /// Beginning-of-life efficiency at AM0, 28 C (the catalogue, [`crate::cells`]).
    pub fn efficiency_bol(self) -> f64 {
        self.spec().efficiency_bol
    }

    /// Relative change of efficiency per kelvin above 28 C.
    pub fn temp_coeff_per_k(self) -> f64 {
        self.spec().temp_coeff_per_k
    }

    /// Fractional power loss per year in orbit (radiation, UV, thermal cycling).
    pub fn degradation_per_year(self) -> f64 {
        self.spec().degradation_per_year
    }
}

/// How the array is pointed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pointing {
    /// Two-axis tracking: the array faces the Sun whenever it is visible.
    SunTracking,
    /// One-axis tracking about the orbit normal (the usual solar-array drive): cosine loss
    /// cos(beta).
    SingleAxis,
    /// Fixed on the zenith face of a nadir-pointing body: cosine of the Sun's angle from
    /// the local vertical, 0 when the Sun is below the array's horizon. Averaged over a
    /// beta-0 orbit this is 1/pi of the tracking array's energy.
    BodyFixedZenith,
}

impl Pointing {
    pub fn parse(text: &str) -> Result<Self, ParamError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "tracking" | "sun-tracking" => Ok(Pointing::SunTracking),
            "single-axis" => Ok(Pointing::SingleAxis),
            "body-fixed" | "fixed" => Ok(Pointing::BodyFixedZenith),
            _ => Err(ParamError::new(
                "pointing",
                format!("{text:?}"),
                "one of tracking, single-axis, body-fixed",
            )),
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Pointing::SunTracking => "tracking",
            Pointing::SingleAxis => "single-axis",
            Pointing::BodyFixedZenith => "body-fixed",
        }
    }
}

/// A solar array. Fields are private: build with [`SolarArray::new`].
#[derive(Clone, Debug, PartialEq)]
pub struct SolarArray {
    area_m2: f64,
    cell: CellType,
    efficiency_bol: f64,
    /// Cell area / panel area.
    packing_factor: f64,
    operating_temp_k: f64,
    pointing: Pointing,
}

/// Typical packing factor of a rigid or flexible panel (cells / substrate area): 0.90
/// (Wertz & Larson, SMAD 3rd ed., sec. 11.4 uses 0.85-0.90).
pub const PACKING_FACTOR: f64 = 0.90;
/// Operating temperature of a sun-facing LEO array: about 60 C (SMAD 3rd ed. sec. 11.4
/// quotes 50-70 C for LEO arrays in sunlight).
pub const ARRAY_OPERATING_TEMP_K: f64 = 333.15;

impl SolarArray {
    pub fn new(
        area_m2: f64,
        cell: CellType,
        efficiency_bol: Option<f64>,
        pointing: Pointing,
    ) -> Result<Self, ParamError> {
        let efficiency_bol = unit_fraction(
            "cell-efficiency",
            efficiency_bol.unwrap_or(cell.efficiency_bol()),
        )?;
        Ok(SolarArray {
            area_m2: positive("array-area-m2", area_m2)?,
            cell,
            efficiency_bol,
            packing_factor: PACKING_FACTOR,
            operating_temp_k: ARRAY_OPERATING_TEMP_K,
            pointing,
        })
    }

    pub fn with_operating_temp_k(mut self, temp_k: f64) -> Result<Self, ParamError> {
        self.operating_temp_k = within("array-temp-k", temp_k, 3.0, 500.0)?;
        Ok(self)
    }

    pub fn area_m2(&self) -> f64 {
        self.area_m2
    }
    pub fn cell(&self) -> CellType {
        self.cell
    }
    pub fn pointing(&self) -> Pointing {
        self.pointing
    }
    pub fn efficiency_bol(&self) -> f64 {
        self.efficiency_bol
    }
    pub fn packing_factor(&self) -> f64 {
        self.packing_factor
    }

    /// Conversion efficiency of the panel area (cells x packing x temperature x ageing):
    /// W out per W of sunlight on the panel at normal incidence.
    pub fn panel_efficiency(&self, age_years: f64) -> f64 {
        let temp_factor = (1.0
            + self.cell.temp_coeff_per_k() * (self.operating_temp_k - CELL_REFERENCE_TEMP_K))
            .max(0.0);
        let ageing = (1.0 - self.cell.degradation_per_year()).powf(age_years.max(0.0));
        self.efficiency_bol * self.packing_factor * temp_factor * ageing
    }

    /// Electrical output, W, for the irradiance at the satellite's Sun distance, the visible
    /// fraction of the Sun's disc and the cosine of the incidence angle.
    pub fn power_w(
        &self,
        irradiance_w_m2: f64,
        sunlit_fraction: f64,
        cos_incidence: f64,
        age_years: f64,
    ) -> f64 {
        let light =
            irradiance_w_m2 * sunlit_fraction.clamp(0.0, 1.0) * cos_incidence.clamp(0.0, 1.0);
        light * self.area_m2 * self.panel_efficiency(age_years)
    }
}

/// A battery. Fields are private: build with [`Battery::new`].
#[derive(Clone, Debug, PartialEq)]
pub struct Battery {
    capacity_wh: f64,
    dod_limit: f64,
    charge_efficiency: f64,
    discharge_efficiency: f64,
}

/// Li-ion depth-of-discharge limit for LEO cycling (~5,500 cycles a year): 30 %
/// (Knap et al. 2020, "A Review of Battery Technology in CubeSats and Small Satellite
/// Solutions", Energies 13(16) 4097: LEO missions keep Li-ion DoD at 20-40 %).
pub const LEO_DOD_LIMIT: f64 = 0.30;
/// Li-ion charge and discharge energy efficiency, each 95 % (round trip ~90 %, ibid.).
pub const LI_ION_EFFICIENCY: f64 = 0.95;

impl Battery {
    pub fn new(
        capacity_wh: f64,
        dod_limit: f64,
        charge_efficiency: f64,
        discharge_efficiency: f64,
    ) -> Result<Self, ParamError> {
        Ok(Battery {
            capacity_wh: non_negative("battery-wh", capacity_wh)?,
            dod_limit: unit_fraction("dod", dod_limit)?,
            charge_efficiency: unit_fraction("charge-efficiency", charge_efficiency)?,
            discharge_efficiency: unit_fraction("discharge-efficiency", discharge_efficiency)?,
        })
    }

    pub fn capacity_wh(&self) -> f64 {
        self.capacity_wh
    }
    pub fn dod_limit(&self) -> f64 {
        self.dod_limit
    }
    pub fn charge_efficiency(&self) -> f64 {
        self.charge_efficiency
    }
    pub fn discharge_efficiency(&self) -> f64 {
        self.discharge_efficiency
    }
    /// The lowest state of charge allowed, Wh.
    pub fn min_soc_wh(&self) -> f64 {
        self.capacity_wh * (1.0 - self.dod_limit)
    }
}

/// Where the energy of one step went, Wh (plus the powers that produced it).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PowerFlows {
    /// Array output available in the step (maximum-power-point).
    pub collected_wh: f64,
    /// Bus plus payload energy actually delivered.
    pub served_load_wh: f64,
    /// Charge and discharge losses.
    pub loss_wh: f64,
    /// Change of the battery's state of charge (negative when discharging).
    pub stored_change_wh: f64,
    /// Array energy neither used nor stored (battery full).
    pub curtailed_wh: f64,
    /// Bus energy that could not be delivered (brown-out; 0 in a sized design).
    pub bus_unserved_wh: f64,
    /// Payload power granted, W.
    pub payload_w: f64,
}

impl PowerFlows {
    /// `collected - (served + losses + stored change + curtailed)`: zero up to rounding.
    pub fn imbalance_wh(&self) -> f64 {
        self.collected_wh
            - (self.served_load_wh + self.loss_wh + self.stored_change_wh + self.curtailed_wh)
    }
}

/// Payload power available for a step of `dt_s`, W: array output plus what the battery can
/// deliver above its limit, minus the bus load (never negative).
pub fn payload_available_w(
    battery: &Battery,
    soc_wh: f64,
    array_w: f64,
    bus_w: f64,
    dt_s: f64,
) -> f64 {
    let battery_w = if dt_s > 0.0 {
        (soc_wh - battery.min_soc_wh()).max(0.0) * battery.discharge_efficiency * S_PER_H / dt_s
    } else {
        0.0
    };
    (array_w + battery_w - bus_w).max(0.0)
}

/// Runs the power system for `dt_s` seconds: serves the bus first, then up to
/// `requested_payload_w`, charges the battery with any surplus and curtails the rest.
/// Updates `soc_wh` in place and returns the flows.
pub fn step_power(
    battery: &Battery,
    soc_wh: &mut f64,
    array_w: f64,
    bus_w: f64,
    requested_payload_w: f64,
    dt_s: f64,
) -> PowerFlows {
    assert!(dt_s >= 0.0 && dt_s.is_finite(), "step length {dt_s} s");
    assert!(
        array_w >= 0.0 && bus_w >= 0.0 && requested_payload_w >= 0.0,
        "negative power"
    );
    let min_wh = battery.min_soc_wh();
    assert!(
        *soc_wh >= min_wh - 1e-9 * battery.capacity_wh.max(1.0),
        "state of charge below limit on entry"
    );
    let dt_h = dt_s / S_PER_H;
    let collected_wh = array_w * dt_h;
    let usable_wh = (*soc_wh - min_wh).max(0.0) * battery.discharge_efficiency;
    let supply_wh = collected_wh + usable_wh;
    let bus_wh = bus_w * dt_h;
    let bus_served_wh = bus_wh.min(supply_wh);
    let payload_wh = (requested_payload_w * dt_h)
        .min(supply_wh - bus_served_wh)
        .max(0.0);
    let served_load_wh = bus_served_wh + payload_wh;
    let mut flows = PowerFlows {
        collected_wh,
        served_load_wh,
        bus_unserved_wh: bus_wh - bus_served_wh,
        payload_w: if dt_h > 0.0 { payload_wh / dt_h } else { 0.0 },
        ..PowerFlows::default()
    };
    if collected_wh >= served_load_wh {
        let surplus_wh = collected_wh - served_load_wh;
        let room_wh = (battery.capacity_wh - *soc_wh).max(0.0);
        let charge_in_wh = surplus_wh.min(room_wh / battery.charge_efficiency);
        let stored_wh = charge_in_wh * battery.charge_efficiency;
        *soc_wh += stored_wh;
        flows.stored_change_wh = stored_wh;
        flows.loss_wh = charge_in_wh - stored_wh;
        flows.curtailed_wh = surplus_wh - charge_in_wh;
    } else {
        let deficit_wh = served_load_wh - collected_wh;
        // Never below the limit: the payload grant above keeps this within rounding.
        let drawn_wh = (deficit_wh / battery.discharge_efficiency).min(*soc_wh - min_wh);
        *soc_wh -= drawn_wh;
        flows.stored_change_wh = -drawn_wh;
        flows.loss_wh = drawn_wh - deficit_wh;
    }
    flows
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn battery() -> Battery {
        Battery::new(1_000.0, 0.3, 0.95, 0.95).unwrap()
    }

    #[test]
    fn array_power_hand_calculation() {
        // 10 m^2 GaAs, tracking, at 1 AU, 28 C, new: 1361 x 10 x 0.30 x 0.90 = 3674.7 W.
        let a = SolarArray::new(
            10.0,
            CellType::GaAsTripleJunction,
            None,
            Pointing::SunTracking,
        )
        .unwrap()
        .with_operating_temp_k(CELL_REFERENCE_TEMP_K)
        .unwrap();
        assert!((a.power_w(SOLAR_CONSTANT_W_M2, 1.0, 1.0, 0.0) - 3_674.7).abs() < 1e-6);
        // Five years later: x 0.9725^5 = 0.86981.
        assert!(
            (a.power_w(SOLAR_CONSTANT_W_M2, 1.0, 1.0, 5.0) - 3_674.7 * 0.9725f64.powi(5)).abs()
                < 1e-6
        );
        // Half the Sun's disc hidden and 60 deg incidence: a quarter.
        assert!((a.power_w(SOLAR_CONSTANT_W_M2, 0.5, 0.5, 0.0) - 3_674.7 / 4.0).abs() < 1e-6);
        // 60 C: -0.2 %/K x 32 K = -6.4 %.
        let hot = a.clone().with_operating_temp_k(333.15).unwrap();
        assert!((hot.power_w(SOLAR_CONSTANT_W_M2, 1.0, 1.0, 0.0) - 3_674.7 * 0.936).abs() < 1e-6);
    }

    #[test]
    fn bad_parameters_are_rejected() {
        assert_eq!(
            SolarArray::new(-1.0, CellType::Silicon, None, Pointing::SunTracking)
                .unwrap_err()
                .field,
            "array-area-m2"
        );
        assert_eq!(
            SolarArray::new(1.0, CellType::Silicon, Some(1.2), Pointing::SunTracking)
                .unwrap_err()
                .field,
            "cell-efficiency"
        );
        assert_eq!(Battery::new(10.0, 1.5, 0.9, 0.9).unwrap_err().field, "dod");
        assert_eq!(
            Battery::new(10.0, 0.3, 0.0, 0.9).unwrap_err().field,
            "charge-efficiency"
        );
        assert_eq!(CellType::parse("cigs").unwrap_err().field, "cell");
    }

    #[test]
    fn eclipse_discharge_stops_at_the_limit() {
        let b = Battery::new(1_000.0, 0.7, 0.95, 0.95).unwrap();
        let mut soc = 1_000.0;
        // 1 h of eclipse at 500 W payload + 100 W bus: 600 Wh wanted; 700 Wh above the
        // limit x 0.95 = 665 Wh usable: all served, 631.58 Wh drawn.
        let f = step_power(&b, &mut soc, 0.0, 100.0, 500.0, 3_600.0);
        assert!((f.payload_w - 500.0).abs() < 1e-9);
        assert!((soc - (1_000.0 - 600.0 / 0.95)).abs() < 1e-9);
        // The next hour 68.42 Wh x 0.95 = 65 Wh remain: the bus takes it all and still
        // misses 35 Wh; the payload gets none; the battery stops exactly at its limit.
        let f = step_power(&b, &mut soc, 0.0, 100.0, 500.0, 3_600.0);
        assert!(f.payload_w < 1e-9);
        assert!((f.bus_unserved_wh - 35.0).abs() < 1e-9, "{f:?}");
        assert!((soc - b.min_soc_wh()).abs() < 1e-9);
        // With DoD 0.3 the same battery offers only 300 x 0.95 = 285 Wh.
        let b = battery();
        let mut soc = 1_000.0;
        let f = step_power(&b, &mut soc, 0.0, 100.0, 500.0, 3_600.0);
        assert!((f.served_load_wh - 285.0).abs() < 1e-9 && (soc - 700.0).abs() < 1e-9);
    }

    #[test]
    fn full_battery_curtails() {
        let b = battery();
        let mut soc = 1_000.0;
        let f = step_power(&b, &mut soc, 1_000.0, 100.0, 100.0, 3_600.0);
        assert!((f.curtailed_wh - 800.0).abs() < 1e-9 && f.stored_change_wh == 0.0);
    }

    proptest! {
        /// Over any sequence of steps and any parameters: the identity holds per step and in
        /// total, the battery stays within [limit, capacity] and the payload gets no more
        /// than was requested nor more than was available. Rounding tolerance 1e-9
        /// relative to the energies involved (f64 sums of a few hundred terms).
        #[test]
        fn energy_bookkeeping(
            capacity_wh in 0.0f64..5_000.0,
            dod in 0.05f64..1.0,
            eta_c in 0.5f64..=1.0,
            eta_d in 0.5f64..=1.0,
            initial in 0.0f64..=1.0,
            bus_w in 0.0f64..500.0,
            steps in proptest::collection::vec((1.0f64..3_600.0, 0.0f64..3_000.0, 0.0f64..3_000.0), 1..200),
        ) {
            let b = Battery::new(capacity_wh, dod, eta_c, eta_d).unwrap();
            let mut soc = b.min_soc_wh() + initial * (capacity_wh - b.min_soc_wh());
            let soc0 = soc;
            let (mut collected, mut served, mut loss, mut curtailed) = (0.0, 0.0, 0.0, 0.0);
            for (dt_s, array_w, requested_w) in steps {
                let available_w = payload_available_w(&b, soc, array_w, bus_w, dt_s);
                let f = step_power(&b, &mut soc, array_w, bus_w, requested_w, dt_s);
                let scale = 1.0 + f.collected_wh + f.served_load_wh + capacity_wh;
                prop_assert!(f.imbalance_wh().abs() <= 1e-9 * scale, "{f:?}");
                prop_assert!(soc >= b.min_soc_wh() - 1e-9 * (1.0 + capacity_wh), "soc {soc} below {}", b.min_soc_wh());
                prop_assert!(soc <= capacity_wh + 1e-9 * (1.0 + capacity_wh));
                prop_assert!(f.payload_w <= requested_w + 1e-9);
                prop_assert!(f.payload_w <= available_w * (1.0 + 1e-9) + 1e-9, "{} > {available_w}", f.payload_w);
                prop_assert!(f.loss_wh >= -1e-12 && f.curtailed_wh >= -1e-12);
                collected += f.collected_wh;
                served += f.served_load_wh;
                loss += f.loss_wh;
                curtailed += f.curtailed_wh;
            }
            let total = collected - (served + loss + (soc - soc0) + curtailed);
            prop_assert!(total.abs() <= 1e-9 * (1.0 + collected + served + capacity_wh) * 200.0, "total imbalance {total}");
        }
    }
}
