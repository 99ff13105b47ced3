//! The solar-cell catalogue: efficiency, temperature coefficient, radiation degradation,
//! areal mass of a rigid and of a flexible array, and cost per watt for each cell type, each
//! figure with its source or marked ASSUMED (docs/plan.md, "Solar cells").
//!
//! Areal masses are wing-level (cells, cover glass, substrate or blanket, deployment
//! structure and harness) per m^2 of array, because that is what the launch carries. The
//! flexible GaAs figure is measured; the others are derived from it by the documented
//! differences between cell layers and between a honeycomb panel and a blanket.

use crate::error::ParamError;
use crate::power::{CellType, PACKING_FACTOR, SOLAR_CONSTANT_W_M2};

/// How the array is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrayBuild {
    /// Cells bonded to aluminium-honeycomb panels with composite face sheets.
    Rigid,
    /// Cells on a polyimide blanket deployed by a boom or mast (UltraFlex, ROSA).
    Flexible,
}

impl ArrayBuild {
    pub const ALL: [ArrayBuild; 2] = [ArrayBuild::Rigid, ArrayBuild::Flexible];

    pub fn parse(text: &str) -> Result<Self, ParamError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "rigid" => Ok(ArrayBuild::Rigid),
            "flexible" | "flex" => Ok(ArrayBuild::Flexible),
            _ => Err(ParamError::new(
                "array",
                format!("{text:?}"),
                "one of rigid, flexible",
            )),
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            ArrayBuild::Rigid => "rigid",
            ArrayBuild::Flexible => "flexible",
        }
    }
}

/// A certified efficiency measured on a small laboratory cell under the terrestrial
/// spectrum. It is not an AM0 figure and says nothing about life in orbit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LabRecord {
    pub efficiency: f64,
    /// Spectrum and standard of the measurement.
    pub conditions: &'static str,
    pub holder: &'static str,
    pub date: &'static str,
    pub source: &'static str,
}

/// One catalogue entry. Every figure carries its source; "ASSUMED" marks an engineering
/// estimate with no published measurement behind it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CellSpec {
    pub cell: CellType,
    pub name: &'static str,
    /// Beginning-of-life efficiency at AM0 and 28 C, the figure the planner uses.
    pub efficiency_bol: f64,
    pub efficiency_source: &'static str,
    /// Qualified for space (flight heritage on a qualified product).
    pub space_qualified: bool,
    /// The terrestrial record the AM0 efficiency is derived from, when it is.
    pub lab_record: Option<LabRecord>,
    /// Relative change of efficiency per kelvin above 28 C.
    pub temp_coeff_per_k: f64,
    pub temp_coeff_source: &'static str,
    /// Fractional power loss per year in LEO (radiation, UV, thermal cycling).
    pub degradation_per_year: f64,
    pub degradation_source: &'static str,
    /// Wing-level areal mass, kg per m^2 of array.
    pub rigid_kg_per_m2: f64,
    pub flexible_kg_per_m2: f64,
    pub mass_source: &'static str,
    /// Array cost, USD per W at beginning of life.
    pub cost_usd_per_w: f64,
    pub cost_source: &'static str,
}

/// Flexible-blanket wings reach about 150 W/kg (Mikulas et al. 2015, NASA NTRS
/// 20150006022, for 30-50 kW wings; UltraFlex 150 W/kg end of life): with 30 % GaAs cells
/// and 0.90 packing that is 1361 x 0.30 x 0.90 / 150 = 2.45 kg/m^2.
pub const GAAS_FLEXIBLE_KG_PER_M2: f64 = 2.45;
/// A honeycomb panel in place of a blanket: panels with cells weigh 2.0-2.5 kg/m^2 and
/// flexible blankets 0.6-1.0 kg/m^2 (ASSUMED ranges, industry practice); the midpoints
/// differ by 2.25 - 0.80 = 1.45 kg/m^2.
pub const RIGID_EXTRA_KG_PER_M2: f64 = 1.45;
/// Silicon cells weigh 29.4 mg/cm^2 (Rockwell SPS feasibility study SD76SA0239-2, 1976,
/// sec. 2.2) and GaAs cells on germanium about twice as much (Space Solar Power Review 8,
/// 1989: GaAs cells "about twice the weight of silicon"): 0.294 kg/m^2 of cell less, times
/// the packing factor.
pub const SILICON_CELL_SAVING_KG_PER_M2: f64 = 0.294 * PACKING_FACTOR;
/// The catalogue's masses, rounded to 10 g/m^2 (the derivations are checked in the tests).
const GAAS_RIGID_KG_PER_M2: f64 = 3.90;
const SILICON_FLEXIBLE_KG_PER_M2: f64 = 2.19;
const SILICON_RIGID_KG_PER_M2: f64 = 3.64;

/// The catalogue, in the order of [`CellType::ALL`].
pub const CELLS: [CellSpec; 3] = [
    CellSpec {
        cell: CellType::Silicon,
        name: "silicon (high-efficiency monocrystalline)",
        efficiency_bol: 0.22,
        efficiency_source: "ASSUMED 22 % AM0 for back-contact mono-Si as flown by low-cost \
            constellations (22-24 % AM1.5); space-grade Si (AZUR SPACE S 32 datasheet) is \
            16.9 % AM0: pass --cell-efficiency 0.169 for it",
        space_qualified: true,
        lab_record: None,
        temp_coeff_per_k: -0.004,
        temp_coeff_source: "about -0.4 %/K relative in Pmax (crystalline-Si module datasheets)",
        degradation_per_year: 0.0375,
        degradation_source: "Wertz & Larson, SMAD 3rd ed., Table 11-34 (Si 3.75 %/yr); GEO \
            telemetry shows 0.71-1.69 %/yr (Lohmeyer et al., Int. J. Space Sci. Eng. 5(1), \
            2018)",
        rigid_kg_per_m2: SILICON_RIGID_KG_PER_M2,
        flexible_kg_per_m2: SILICON_FLEXIBLE_KG_PER_M2,
        mass_source: "GaAs wings less the lighter cells: Si 29.4 mg/cm^2 (Rockwell SPS study \
            1976), GaAs about twice that (Space Solar Power Review 8, 1989)",
        cost_usd_per_w: 20.0,
        cost_source: "ASSUMED USD 5-30/W for arrays of commercial Si cells on mass-produced \
            LEO spacecraft; no public price",
    },
    CellSpec {
        cell: CellType::GaAsTripleJunction,
        name: "GaAs triple junction (InGaP/GaAs/Ge)",
        efficiency_bol: 0.30,
        efficiency_source: "AZUR SPACE 3G30C-Advanced datasheet: 30 % BOL at AM0, 28 C \
            (Spectrolab XTJ Prime datasheet, 2016: 30.7 %)",
        space_qualified: true,
        lab_record: None,
        temp_coeff_per_k: -0.002,
        temp_coeff_source: "about -0.2 %/K relative (AZUR SPACE 3G30C datasheet, Pmp \
            temperature gradient)",
        degradation_per_year: 0.0275,
        degradation_source: "Wertz & Larson, SMAD 3rd ed., Table 11-34 (GaAs 2.75 %/yr); XTJ \
            keeps 0.84 of its power after 1e15 1-MeV e/cm^2 (Fetzer et al., IEEE PVSC); GEO \
            telemetry shows 0.44-1.03 %/yr (Lohmeyer et al. 2018)",
        rigid_kg_per_m2: GAAS_RIGID_KG_PER_M2,
        flexible_kg_per_m2: GAAS_FLEXIBLE_KG_PER_M2,
        mass_source: "flexible: 150 W/kg wings (Mikulas et al. 2015, NASA NTRS 20150006022); \
            rigid: plus 1.45 kg/m^2 for a honeycomb panel in place of a blanket (ASSUMED)",
        cost_usd_per_w: 300.0,
        cost_source: "space III-V cells cost USD 100-300/W (D. Young, NREL, 2018); the array \
            at the top of that range (ASSUMED, lay-down and qualification included)",
    },
    CellSpec {
        cell: CellType::PerovskiteSiliconTandem,
        name: "perovskite/silicon tandem (not space-qualified)",
        efficiency_bol: 0.31,
        efficiency_source: "ASSUMED: the terrestrial lab record (34.85 % AM1.5G) x 0.89, the \
            AM0/AM1.5G ratio of silicon cells; an upper bound, being a 1 cm^2 lab cell (33 % \
            was certified on 260.9 cm^2, LONGi 2025)",
        space_qualified: false,
        lab_record: Some(LabRecord {
            efficiency: 0.3485,
            conditions: "AM1.5G (terrestrial), about 1 cm^2, NREL-certified",
            holder: "LONGi",
            date: "April 2025",
            source: "LONGi announcement of the NREL-certified record, April 2025; NREL Best \
                Research-Cell Efficiency chart",
        }),
        temp_coeff_per_k: -0.0025,
        temp_coeff_source: "about -0.25 %/K reported for tandem modules (Oxford PV); no \
            space data",
        degradation_per_year: 0.0375,
        degradation_source: "as silicon: the perovskite top cell is radiation-hard, but the \
            Si bottom cell is not, and limits the tandem (Lang et al., Joule 4, 2020: \
            perovskite/Si fell to about 1 % of its power after 2e12 68-MeV p/cm^2 while \
            perovskite/CIGS kept over 85 %); no orbital data (ISS samples and a suborbital \
            flight only)",
        rigid_kg_per_m2: SILICON_RIGID_KG_PER_M2,
        flexible_kg_per_m2: SILICON_FLEXIBLE_KG_PER_M2,
        mass_source: "as silicon: the Si bottom cell carries the mass, the perovskite layers \
            are under 1 um (ASSUMED negligible)",
        cost_usd_per_w: 30.0,
        cost_source: "ASSUMED USD 10-50/W: silicon's array cost plus the perovskite \
            deposition; no space product exists",
    },
];

impl CellSpec {
    pub fn kg_per_m2(&self, build: ArrayBuild) -> f64 {
        match build {
            ArrayBuild::Rigid => self.rigid_kg_per_m2,
            ArrayBuild::Flexible => self.flexible_kg_per_m2,
        }
    }

    /// Beginning-of-life power of 1 m^2 of array at normal incidence, 1 AU, 28 C.
    pub fn bol_w_per_m2(&self) -> f64 {
        SOLAR_CONSTANT_W_M2 * self.efficiency_bol * PACKING_FACTOR
    }

    /// Wing-level specific power at beginning of life, W/kg.
    pub fn w_per_kg(&self, build: ArrayBuild) -> f64 {
        self.bol_w_per_m2() / self.kg_per_m2(build)
    }

    /// What a planner must be told about this cell, if anything, when the plan uses
    /// `efficiency` (the catalogue's, or the one given).
    pub fn warning(&self, efficiency: f64) -> Option<String> {
        if self.space_qualified {
            return None;
        }
        let mut w = format!("{} cells are not space-qualified", self.cell.key());
        if let Some(r) = self.lab_record {
            w.push_str(&format!(
                "; {:.2} % is a terrestrial lab record ({}, {} {}), not an AM0 or flight \
                 figure: the plan uses {:.1} % ({})",
                r.efficiency * 100.0,
                r.conditions,
                r.holder,
                r.date,
                efficiency * 100.0,
                if efficiency == self.efficiency_bol {
                    "ASSUMED"
                } else {
                    "--cell-efficiency"
                }
            ));
        }
        Some(w)
    }
}

impl CellType {
    /// This cell's catalogue entry.
    pub fn spec(self) -> &'static CellSpec {
        match self {
            CellType::Silicon => &CELLS[0],
            CellType::GaAsTripleJunction => &CELLS[1],
            CellType::PerovskiteSiliconTandem => &CELLS[2],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cell_has_its_entry_and_every_figure_a_source() {
        for (c, spec) in CellType::ALL.iter().zip(&CELLS) {
            assert_eq!(c.spec().cell, *c);
            assert_eq!(spec.cell, *c);
            for s in [
                spec.efficiency_source,
                spec.temp_coeff_source,
                spec.degradation_source,
                spec.mass_source,
                spec.cost_source,
            ] {
                assert!(s.len() > 20, "{}: {s:?}", c.key());
            }
            assert!(
                spec.rigid_kg_per_m2 > spec.flexible_kg_per_m2,
                "{}",
                c.key()
            );
            assert!(spec.efficiency_bol > 0.1 && spec.efficiency_bol < 0.4);
        }
    }

    #[test]
    fn the_rounded_masses_are_their_derivations() {
        let close = |a: f64, b: f64| (a - b).abs() < 0.006;
        assert!(close(
            GAAS_RIGID_KG_PER_M2,
            GAAS_FLEXIBLE_KG_PER_M2 + RIGID_EXTRA_KG_PER_M2
        ));
        assert!(close(
            SILICON_FLEXIBLE_KG_PER_M2,
            GAAS_FLEXIBLE_KG_PER_M2 - SILICON_CELL_SAVING_KG_PER_M2
        ));
        assert!(close(
            SILICON_RIGID_KG_PER_M2,
            GAAS_RIGID_KG_PER_M2 - SILICON_CELL_SAVING_KG_PER_M2
        ));
    }

    #[test]
    fn flexible_gaas_is_the_measured_150_w_per_kg_wing() {
        let g = CellType::GaAsTripleJunction.spec();
        assert!((g.w_per_kg(ArrayBuild::Flexible) - 150.0).abs() < 0.2);
        // 1361 x 0.30 x 0.90 = 367.5 W/m^2 over 3.90 kg/m^2.
        assert!((g.w_per_kg(ArrayBuild::Rigid) - 94.2).abs() < 0.1);
    }

    #[test]
    fn the_tandem_is_lighter_per_watt_than_gaas_but_flagged_as_a_lab_record() {
        let t = CellType::PerovskiteSiliconTandem.spec();
        let g = CellType::GaAsTripleJunction.spec();
        for b in ArrayBuild::ALL {
            assert!(t.kg_per_m2(b) < g.kg_per_m2(b));
            assert!(t.w_per_kg(b) > g.w_per_kg(b));
        }
        assert!(!t.space_qualified);
        let r = t.lab_record.unwrap();
        assert!(r.conditions.contains("AM1.5G") && r.efficiency > t.efficiency_bol);
        let w = t.warning(t.efficiency_bol).unwrap();
        assert!(
            w.contains("terrestrial lab record") && w.contains("34.85 %"),
            "{w}"
        );
        assert!(w.contains("uses 31.0 % (ASSUMED)"), "{w}");
        let w = t.warning(0.4).unwrap();
        assert!(w.contains("uses 40.0 % (--cell-efficiency)"), "{w}");
        assert!(g.warning(0.3).is_none() && CellType::Silicon.spec().warning(0.2).is_none());
        // Its radiation degradation is silicon's, not better than GaAs (Lang et al. 2020).
        assert!(t.degradation_per_year >= g.degradation_per_year);
    }

    #[test]
    fn array_build_parses() {
        assert_eq!(ArrayBuild::parse("Rigid").unwrap(), ArrayBuild::Rigid);
        assert_eq!(ArrayBuild::parse("flex").unwrap(), ArrayBuild::Flexible);
        assert_eq!(ArrayBuild::parse("foldy").unwrap_err().field, "array");
    }
}
