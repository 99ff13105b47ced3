//! `tiandi plan`: size a compute satellite and compare it with a ground data centre.
//!
//! Parses the flags, builds a [`PlanInput`] from the node crate's documented defaults plus
//! whatever the user overrides, and prints the plan as a text table or JSON. All physics and
//! validation live in `tiandi_node::plan`; every printed line has an id explained in
//! docs/plan.md. `--html FILE` also writes the plan as a page with its mass and cost
//! breakdown charts (`tiandi_html::plan_page`).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use tiandi_node::fleet;
use tiandi_node::plan::{ComputeTarget, OrbitChoice, Plan, PlanInput, PlanLine, plan as make_plan};
use tiandi_node::{ArrayBuild, CELLS, CellType, Pointing, accelerator};
use tiandi_orbit::Epoch;

/// Flags of `tiandi plan`. Numeric flags left out keep the defaults documented in
/// docs/plan.md (shown in brackets).
#[derive(Args)]
pub struct PlanArgs {
    /// Accelerator: h100, orin, versal (radiation-tolerant) or atlas300i.
    #[arg(long, default_value = "h100")]
    accelerator: String,
    /// Number of accelerators [1 when neither this nor --compute-power-w is given].
    #[arg(long, conflicts_with = "compute_power_w")]
    count: Option<u32>,
    /// Payload power instead of a count, W (accelerators plus their host share).
    #[arg(long, allow_negative_numbers = true)]
    compute_power_w: Option<f64>,
    /// Circular orbit altitude, km [550].
    #[arg(long, allow_negative_numbers = true)]
    altitude_km: Option<f64>,
    /// Inclination, deg (an inclined orbit instead of the default dawn-dusk one).
    #[arg(long, allow_negative_numbers = true, conflicts_with_all = ["sun_synchronous", "ltan"])]
    inclination_deg: Option<f64>,
    /// Right ascension of the ascending node for --inclination-deg, deg [0].
    #[arg(long, allow_negative_numbers = true, requires = "inclination_deg")]
    raan_deg: Option<f64>,
    /// Sun-synchronous orbit (the default when no --inclination-deg is given).
    #[arg(long)]
    sun_synchronous: bool,
    /// Local time of the ascending node for a sun-synchronous orbit, HH:MM [06:00, dawn-dusk].
    #[arg(long, value_name = "HH:MM")]
    ltan: Option<String>,
    /// Start of life, ISO-8601 UTC; the eclipse survey covers the following year
    /// [2026-01-01T00:00:00Z].
    #[arg(long, value_name = "ISO")]
    epoch: Option<String>,
    /// Design lifetime, years [5].
    #[arg(long, allow_negative_numbers = true)]
    lifetime_years: Option<f64>,
    /// Shielded total ionizing dose, krad(Si) a year [0.15]: lines R5-R7 compare it over
    /// the lifetime with the accelerator's TID tolerance.
    #[arg(long, allow_negative_numbers = true)]
    dose_krad_per_year: Option<f64>,
    /// Solar cell: silicon, gaas (triple junction) or tandem (perovskite-silicon) [gaas].
    #[arg(long)]
    cell: Option<String>,
    /// Cell efficiency at beginning of life, overriding the cell type's [si 0.22, gaas 0.30,
    /// tandem 0.31].
    #[arg(long, allow_negative_numbers = true)]
    cell_efficiency: Option<f64>,
    /// Array pointing: tracking, single-axis or body-fixed [tracking].
    #[arg(long)]
    pointing: Option<String>,
    /// Use this array area instead of sizing it, m^2.
    #[arg(long, allow_negative_numbers = true)]
    array_area_m2: Option<f64>,
    /// Array build: rigid (honeycomb panels) or flexible (blanket) [flexible]; picks the
    /// catalogue's areal mass (see --cells).
    #[arg(long)]
    array: Option<String>,
    /// Array areal density, kg/m^2, overriding the catalogue's [gaas flexible 2.45].
    #[arg(long, allow_negative_numbers = true)]
    array_kg_per_m2: Option<f64>,
    /// Array cost, USD per W at beginning of life, overriding the catalogue's [gaas 300].
    #[arg(long, allow_negative_numbers = true)]
    array_cost_usd_per_w: Option<f64>,
    /// Print the solar-cell catalogue (efficiency, degradation, rigid and flexible areal
    /// mass, cost per watt, sources) and exit.
    #[arg(long)]
    cells: bool,
    /// Array power margin over the worst sampled orbit [0.10].
    #[arg(long, allow_negative_numbers = true)]
    array_margin: Option<f64>,
    /// Platform (bus) power, W [300].
    #[arg(long, allow_negative_numbers = true)]
    bus_power_w: Option<f64>,
    /// Battery depth-of-discharge limit [0.30].
    #[arg(long, allow_negative_numbers = true)]
    dod: Option<f64>,
    /// Battery charge efficiency [0.95].
    #[arg(long, allow_negative_numbers = true)]
    charge_efficiency: Option<f64>,
    /// Battery discharge efficiency [0.95].
    #[arg(long, allow_negative_numbers = true)]
    discharge_efficiency: Option<f64>,
    /// Battery pack specific energy, Wh/kg [150].
    #[arg(long, allow_negative_numbers = true)]
    battery_wh_per_kg: Option<f64>,
    /// Radiator design temperature, K [310].
    #[arg(long, allow_negative_numbers = true)]
    radiator_temp_k: Option<f64>,
    /// Temperature limit the payload is throttled to, K [318].
    #[arg(long, allow_negative_numbers = true)]
    temp_limit_k: Option<f64>,
    /// Radiator infrared emissivity [0.85].
    #[arg(long, allow_negative_numbers = true)]
    emissivity: Option<f64>,
    /// Radiator solar absorptivity [0.20].
    #[arg(long, allow_negative_numbers = true)]
    absorptivity: Option<f64>,
    /// Radiator areal density, kg/m^2 [7].
    #[arg(long, allow_negative_numbers = true)]
    radiator_kg_per_m2: Option<f64>,
    /// Compute electronics specific mass, kg per kW of payload power [12.79].
    #[arg(long, allow_negative_numbers = true)]
    compute_kg_per_kw: Option<f64>,
    /// Structure and unsized bus subsystems as a fraction of dry mass [0.30].
    #[arg(long, allow_negative_numbers = true)]
    structure_fraction: Option<f64>,
    /// Mass margin fraction [0.15].
    #[arg(long, allow_negative_numbers = true)]
    margin_fraction: Option<f64>,
    /// Launch price, CNY per kg [70000].
    #[arg(long, allow_negative_numbers = true)]
    launch_price_cny_per_kg: Option<f64>,
    /// Spacecraft manufacturing cost, CNY per kg of non-compute mass [8000].
    #[arg(long, allow_negative_numbers = true)]
    spacecraft_cost_cny_per_kg: Option<f64>,
    /// Price of one accelerator with its host share, CNY, counted on both sides [0].
    #[arg(long, allow_negative_numbers = true)]
    accelerator_price_cny: Option<f64>,
    /// Time to recover a task from one upset, s [60].
    #[arg(long, allow_negative_numbers = true)]
    fault_recovery_s: Option<f64>,
    /// Ground data centre power usage effectiveness [1.3].
    #[arg(long, allow_negative_numbers = true)]
    pue: Option<f64>,
    /// Ground electricity price, CNY/kWh [0.6].
    #[arg(long, allow_negative_numbers = true)]
    electricity_cny_per_kwh: Option<f64>,
    /// Ground data-centre construction cost, CNY per kW of IT load [50000].
    #[arg(long, allow_negative_numbers = true)]
    dc_capex_cny_per_kw: Option<f64>,
    /// Years between replacements of the ground data centre's accelerators [6].
    #[arg(long, allow_negative_numbers = true)]
    hardware_refresh_years: Option<f64>,
    /// A fleet of N such satellites: totals, launches per launcher, replacements and the
    /// ground comparison (lines F1-F12, L1-L5).
    #[arg(long, conflicts_with = "total_compute_power_w")]
    satellites: Option<u32>,
    /// Size a fleet for this total payload power, W: the fewest satellites that
    /// --launcher lifts one piece each.
    #[arg(long, allow_negative_numbers = true, conflicts_with_all = ["count", "compute_power_w"])]
    total_compute_power_w: Option<f64>,
    /// Launcher that bounds one satellite's mass with --total-compute-power-w:
    /// long-march-8a, long-march-5b, zhuque-3, falcon-9 or starship [long-march-8a].
    #[arg(long, requires = "total_compute_power_w")]
    launcher: Option<String>,
    /// Satellites failing a year, each replaced, for the fleet's replacements [0.02].
    #[arg(long, allow_negative_numbers = true)]
    failure_rate_per_year: Option<f64>,
    /// Print JSON instead of a text table.
    #[arg(long)]
    json: bool,
    /// Also write the plan as a self-contained HTML page (mass and cost breakdown charts
    /// and every line) to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

/// "06:00" or "6.5" -> hours.
fn parse_ltan(text: &str) -> Result<f64> {
    let bad = || anyhow::anyhow!("invalid ltan {text:?}: expected HH:MM within 00:00..24:00");
    let hours = match text.split_once(':') {
        Some((h, m)) => {
            let h: u32 = h.trim().parse().map_err(|_| bad())?;
            let m: u32 = m.trim().parse().map_err(|_| bad())?;
            if m >= 60 {
                return Err(bad());
            }
            f64::from(h) + f64::from(m) / 60.0
        }
        None => text.trim().parse::<f64>().map_err(|_| bad())?,
    };
    if !(0.0..=24.0).contains(&hours) {
        return Err(bad());
    }
    Ok(hours)
}

fn build_input(args: &PlanArgs) -> Result<PlanInput> {
    let acc = accelerator(&args.accelerator)?;
    let compute = match (args.count, args.compute_power_w) {
        (Some(n), _) => ComputeTarget::Count(n),
        (None, Some(w)) => ComputeTarget::PowerW(w),
        (None, None) => ComputeTarget::Count(1),
    };
    let mut input = PlanInput::new(acc, compute);
    if let Some(i) = args.inclination_deg {
        input.orbit = OrbitChoice::Inclined {
            inclination_deg: i,
            raan_deg: args.raan_deg.unwrap_or(0.0),
        };
    } else {
        let ltan_hours = match &args.ltan {
            Some(t) => parse_ltan(t)?,
            None => 6.0,
        };
        input.orbit = OrbitChoice::SunSynchronous { ltan_hours };
    }
    if let Some(e) = &args.epoch {
        input.epoch = Epoch::parse_iso(e).context("--epoch")?;
    }
    if let Some(c) = &args.cell {
        input.cell = CellType::parse(c)?;
    }
    if let Some(p) = &args.pointing {
        input.pointing = Pointing::parse(p)?;
    }
    if let Some(a) = &args.array {
        input.array_build = ArrayBuild::parse(a)?;
    }
    input.array_kg_per_m2 = args.array_kg_per_m2;
    input.array_cost_usd_per_w = args.array_cost_usd_per_w;
    input.cell_efficiency = args.cell_efficiency;
    input.array_area_m2 = args.array_area_m2;
    let set = |slot: &mut f64, v: Option<f64>| {
        if let Some(v) = v {
            *slot = v;
        }
    };
    set(&mut input.altitude_km, args.altitude_km);
    set(&mut input.lifetime_years, args.lifetime_years);
    set(&mut input.dose_krad_per_year, args.dose_krad_per_year);
    set(&mut input.array_margin_fraction, args.array_margin);
    set(&mut input.bus_power_w, args.bus_power_w);
    set(&mut input.dod, args.dod);
    set(&mut input.charge_efficiency, args.charge_efficiency);
    set(&mut input.discharge_efficiency, args.discharge_efficiency);
    set(&mut input.battery_wh_per_kg, args.battery_wh_per_kg);
    set(&mut input.radiator_temp_k, args.radiator_temp_k);
    set(&mut input.temp_limit_k, args.temp_limit_k);
    set(&mut input.emissivity, args.emissivity);
    set(&mut input.absorptivity, args.absorptivity);
    set(&mut input.radiator_kg_per_m2, args.radiator_kg_per_m2);
    set(&mut input.compute_kg_per_kw, args.compute_kg_per_kw);
    set(&mut input.structure_fraction, args.structure_fraction);
    set(&mut input.margin_fraction, args.margin_fraction);
    set(
        &mut input.launch_price_cny_per_kg,
        args.launch_price_cny_per_kg,
    );
    set(
        &mut input.spacecraft_cost_cny_per_kg,
        args.spacecraft_cost_cny_per_kg,
    );
    set(&mut input.accelerator_price_cny, args.accelerator_price_cny);
    set(&mut input.fault_recovery_s, args.fault_recovery_s);
    set(&mut input.pue, args.pue);
    set(
        &mut input.electricity_cny_per_kwh,
        args.electricity_cny_per_kwh,
    );
    set(&mut input.dc_capex_cny_per_kw, args.dc_capex_cny_per_kw);
    set(
        &mut input.hardware_refresh_years,
        args.hardware_refresh_years,
    );
    if args.sun_synchronous && args.inclination_deg.is_some() {
        bail!("--sun-synchronous and --inclination-deg cannot be combined");
    }
    Ok(input)
}

/// Satellites failing a year, by default (docs/plan.md, F9: ASSUMED).
const DEFAULT_FAILURE_RATE_PER_YEAR: f64 = 0.02;

pub fn plan(args: PlanArgs) -> Result<()> {
    if args.cells {
        print!(
            "{}",
            if args.json {
                cells_json()
            } else {
                cells_text()
            }
        );
        return Ok(());
    }
    let input = build_input(&args)?;
    let rate = args
        .failure_rate_per_year
        .unwrap_or(DEFAULT_FAILURE_RATE_PER_YEAR);
    if !(rate.is_finite() && (0.0..=1.0).contains(&rate)) {
        bail!("invalid --failure-rate-per-year {rate}: expected 0 to 1");
    }
    if args.satellites == Some(0) {
        bail!("invalid --satellites 0: expected at least 1");
    }
    let mut sized_by = None;
    let (p, satellites) = match args.total_compute_power_w {
        Some(w) => {
            if !(w.is_finite() && w > 0.0) {
                bail!("invalid --total-compute-power-w {w}: expected a positive power in W");
            }
            let key = args.launcher.as_deref().unwrap_or("long-march-8a");
            let l = fleet::launcher(key).with_context(|| {
                let keys: Vec<&str> = fleet::LAUNCHERS.iter().map(|l| l.key).collect();
                format!(
                    "invalid --launcher {key:?}: expected one of {}",
                    keys.join(", ")
                )
            })?;
            let (p, n) = fleet::size_for_power(&input, w, l)?;
            sized_by = Some(l);
            (p, Some(n))
        }
        None => (make_plan(&input)?, args.satellites.map(u64::from)),
    };
    let sso = matches!(input.orbit, OrbitChoice::SunSynchronous { .. });
    let one = fleet::fleet(&p, 1, 0.0, input.lifetime_years, sso);
    let efficiency = input
        .cell_efficiency
        .unwrap_or(input.cell.spec().efficiency_bol);
    let mut warnings: Vec<String> = input.cell.spec().warning(efficiency).into_iter().collect();
    if let Some(l) = sized_by
        && let Some((cap, false)) = l.capacity_kg(sso)
    {
        warnings.push(format!(
            "{} has no published figure for this kind of orbit: the satellites are sized \
                 to its {:.1} t {}, which {} what it lifts here",
            l.name,
            cap / 1_000.0,
            if sso {
                "to low Earth orbit"
            } else {
                "to sun-synchronous orbit"
            },
            if sso { "overstates" } else { "understates" }
        ));
    }
    warnings.extend(one.warnings(p.mass.total_kg));
    let extra = satellites.map_or_else(Vec::new, |n| {
        fleet::fleet(&p, n, rate, input.lifetime_years, sso).lines()
    });
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let text = if args.json {
        to_json(&input, &p, &extra, &warnings)
    } else {
        to_text(&input, &p, &extra, &warnings)
    };
    if let Some(path) = &args.html {
        let heading = format!(
            "{} x {}, {}, {} cells, {} {} array, {} years",
            num(p.compute.n_accelerators),
            input.accelerator.name,
            orbit_label(&input, &p),
            input.cell.key(),
            input.array_build.key(),
            input.pointing.key(),
            input.lifetime_years
        );
        let page = tiandi_html::plan_page(&heading, &p, &extra, &warnings)?;
        tiandi_html::write_file(path, &page)?;
        eprintln!("wrote {}", path.display());
    }
    print!("{text}");
    let failed = p.verification.failed_checks();
    if !failed.is_empty() {
        let what: Vec<String> = failed
            .iter()
            .map(|f| format!("{}: {}", f.id, f.message))
            .collect();
        bail!(
            "the design is infeasible: its own verification fails ({})",
            what.join("; ")
        );
    }
    Ok(())
}

/// The solar-cell catalogue as a table, then each entry's sources.
fn cells_text() -> String {
    let mut out = String::from(
        "solar-cell catalogue (docs/plan.md, \"Solar cells\"; ASSUMED marks an estimate)\n\n",
    );
    out.push_str(&format!(
        "{:<8} {:>8} {:>10} {:>9} {:>11} {:>11} {:>10} {:>10} {:>7} {}\n",
        "cell",
        "eta AM0",
        "k_T per K",
        "loss/yr",
        "rigid kg/m2",
        "flex kg/m2",
        "rigid W/kg",
        "flex W/kg",
        "USD/W",
        "space-qualified"
    ));
    for c in &CELLS {
        out.push_str(&format!(
            "{:<8} {:>8.3} {:>10.4} {:>9.4} {:>11.2} {:>11.2} {:>10.0} {:>10.0} {:>7.0} {}\n",
            c.cell.key(),
            c.efficiency_bol,
            c.temp_coeff_per_k,
            c.degradation_per_year,
            c.rigid_kg_per_m2,
            c.flexible_kg_per_m2,
            c.w_per_kg(ArrayBuild::Rigid),
            c.w_per_kg(ArrayBuild::Flexible),
            c.cost_usd_per_w,
            if c.space_qualified { "yes" } else { "no" }
        ));
    }
    for c in &CELLS {
        out.push_str(&format!("\n{}: {}\n", c.cell.key(), c.name));
        if let Some(r) = c.lab_record {
            out.push_str(&format!(
                "  terrestrial lab record, not space-qualified: {:.2} % ({}, {} {}; {})\n",
                r.efficiency * 100.0,
                r.conditions,
                r.holder,
                r.date,
                r.source
            ));
        }
        for (what, src) in [
            ("efficiency", c.efficiency_source),
            ("temperature", c.temp_coeff_source),
            ("degradation", c.degradation_source),
            ("mass", c.mass_source),
            ("cost", c.cost_source),
        ] {
            out.push_str(&format!("  {what}: {src}\n"));
        }
    }
    out
}

/// The catalogue as JSON, every figure with its source.
fn cells_json() -> String {
    let cells: Vec<serde_json::Value> = CELLS
        .iter()
        .map(|c| {
            serde_json::json!({
                "cell": c.cell.key(),
                "name": c.name,
                "efficiency_bol_am0": c.efficiency_bol,
                "efficiency_source": c.efficiency_source,
                "space_qualified": c.space_qualified,
                "terrestrial_lab_record": c.lab_record.map(|r| serde_json::json!({
                    "efficiency": r.efficiency, "conditions": r.conditions,
                    "holder": r.holder, "date": r.date, "source": r.source,
                })),
                "temp_coeff_per_k": c.temp_coeff_per_k,
                "temp_coeff_source": c.temp_coeff_source,
                "degradation_per_year": c.degradation_per_year,
                "degradation_source": c.degradation_source,
                "rigid_kg_per_m2": c.rigid_kg_per_m2,
                "flexible_kg_per_m2": c.flexible_kg_per_m2,
                "rigid_w_per_kg": c.w_per_kg(ArrayBuild::Rigid),
                "flexible_w_per_kg": c.w_per_kg(ArrayBuild::Flexible),
                "mass_source": c.mass_source,
                "cost_usd_per_w": c.cost_usd_per_w,
                "cost_source": c.cost_source,
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&serde_json::json!({ "cells": cells }))
        .expect("JSON of plain values");
    s.push('\n');
    s
}

/// "feasible", or "infeasible" with the failing checks.
fn verdict(p: &Plan) -> (&'static str, Vec<tiandi_node::plan::FailedCheck>) {
    let failed = p.verification.failed_checks();
    (
        if failed.is_empty() {
            "feasible"
        } else {
            "infeasible"
        },
        failed,
    )
}

fn orbit_label(input: &PlanInput, p: &Plan) -> String {
    match input.orbit {
        OrbitChoice::SunSynchronous { ltan_hours } => {
            let minutes = (ltan_hours * 60.0).round() as u32;
            format!(
                "{} km sun-synchronous, LTAN {:02}:{:02}, i {:.2} deg",
                input.altitude_km,
                minutes / 60,
                minutes % 60,
                p.orbit.inclination_deg
            )
        }
        OrbitChoice::Inclined {
            inclination_deg,
            raan_deg,
        } => format!(
            "{} km circular, i {inclination_deg} deg, RAAN {raan_deg} deg",
            input.altitude_km
        ),
    }
}

/// Readable number: thousands separated above 1000, else four significant digits.
fn num(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v.abs() >= 1_000.0 {
        let s = format!("{:.0}", v.abs());
        let mut out = String::new();
        for (k, c) in s.chars().enumerate() {
            if k > 0 && (s.len() - k) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if v < 0.0 { format!("-{out}") } else { out }
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
        format!("{v:.digits$}")
    }
}

fn to_text(input: &PlanInput, p: &Plan, extra: &[PlanLine], warnings: &[String]) -> String {
    let mut out = String::new();
    let acc = input.accelerator;
    out.push_str(&format!(
        "tiandi plan: {} x {}, {}, {} cells, {} {} array, {} years\n",
        num(p.compute.n_accelerators),
        acc.name,
        orbit_label(input, p),
        input.cell.key(),
        input.array_build.key(),
        input.pointing.key(),
        input.lifetime_years
    ));
    out.push_str("(ids and formulas are explained in docs/plan.md)\n\n");
    out.push_str(&format!(
        "{:<3} {:<42} {:>20} {:<7} {}\n",
        "id", "quantity", "value", "unit", "formula"
    ));
    let mut section = "";
    for l in p.lines().iter().chain(extra) {
        if l.section != section {
            section = l.section;
            out.push_str(&format!("-- {section}\n"));
        }
        out.push_str(&format!(
            "{:<3} {:<42} {:>20} {:<7} {}\n",
            l.id,
            l.label,
            num(l.value),
            l.unit,
            l.formula
        ));
    }
    out.push_str(&format!(
        "\nside by side over {} years (CNY)          space             ground\n",
        input.lifetime_years
    ));
    let (s, g) = (&p.space, &p.ground);
    // (label, space figure, its line id, ground figure, its line id)
    let rows = [
        (
            "launch | data-centre construction",
            s.launch_cny,
            "S1",
            g.capex_cny,
            "G2",
        ),
        (
            "manufacturing | electricity",
            s.manufacturing_cny,
            "S2",
            g.electricity_cny,
            "G4",
        ),
        (
            "accelerators",
            s.accelerators_cny,
            "S3",
            g.accelerators_cny,
            "G5",
        ),
        ("total", s.total_cny, "S4", g.total_cny, "G6"),
        (
            "accelerator-hours delivered",
            s.accelerator_hours,
            "S5",
            g.accelerator_hours,
            "G7",
        ),
        (
            "CNY per accelerator-hour",
            s.cny_per_accelerator_hour,
            "S6",
            g.cny_per_accelerator_hour,
            "G8",
        ),
    ];
    for (label, space, s_id, ground, g_id) in rows {
        out.push_str(&format!(
            "{label:<40} {:>14} {s_id} {:>14} {g_id}\n",
            num(space),
            num(ground)
        ));
    }
    out.push_str(&format!(
        "space costs {} times ground per accelerator-hour (X1)\n",
        num(p.space_to_ground_cost_ratio())
    ));
    for w in warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    let (word, failed) = verdict(p);
    out.push_str(&format!("verdict: {word}\n"));
    for f in failed {
        out.push_str(&format!("  fails {}: {}\n", f.id, f.message));
    }
    out
}

fn to_json(input: &PlanInput, p: &Plan, extra: &[PlanLine], warnings: &[String]) -> String {
    let line = |l: &PlanLine| {
        serde_json::json!({
            "id": l.id, "section": l.section, "quantity": l.label, "value": l.value, "unit": l.unit, "formula": l.formula,
        })
    };
    let (word, failed) = verdict(p);
    let doc = serde_json::json!({
        "accelerator": input.accelerator.key,
        "accelerators": p.compute.n_accelerators,
        "orbit": orbit_label(input, p),
        "epoch": input.epoch.to_string(),
        "cell": input.cell.key(),
        "array": input.array_build.key(),
        "pointing": input.pointing.key(),
        "lifetime_years": input.lifetime_years,
        "verification_start": p.verification.start.to_string(),
        "verdict": word,
        "failed_checks": failed
            .iter()
            .map(|f| serde_json::json!({"id": f.id, "message": f.message}))
            .collect::<Vec<_>>(),
        "warnings": warnings,
        "lines": p.lines().iter().chain(extra).map(line).collect::<Vec<_>>(),
    });
    let mut s = serde_json::to_string_pretty(&doc).expect("JSON of plain values");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ltan_and_numbers() {
        assert_eq!(parse_ltan("06:00").unwrap(), 6.0);
        assert_eq!(parse_ltan("18:30").unwrap(), 18.5);
        assert!(parse_ltan("25:00").is_err());
        assert!(parse_ltan("6:75").is_err());
        assert_eq!(num(60_045_488.9), "60,045,489");
        assert_eq!(num(171.2573), "171.3");
        assert_eq!(num(0.22), "0.2200");
        assert_eq!(num(-1_234.0), "-1,234");
        assert_eq!(num(8.0), "8");
        assert_eq!(num(0.0), "0");
    }
}
