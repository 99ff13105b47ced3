//! Fleet planning: N copies of the planned satellite, with their mass and costs, the
//! launches they take on each launcher of a cited catalogue, the replacements their
//! failure rate calls for over the plan's life, and a ground data centre of the same
//! compute. Also the sizing of a fleet for a total payload power within one launcher's
//! capacity. Every figure is a line of the plan (ids F1-F12 and L1-L5, docs/plan.md).

use crate::plan::{ComputeTarget, OrbitChoice, Plan, PlanError, PlanInput, PlanLine, line, plan};

/// A launch vehicle and what it lifts, as its maker published it.
#[derive(Debug, PartialEq)]
pub struct Launcher {
    pub key: &'static str,
    pub name: &'static str,
    /// Payload to low Earth orbit, kg (`None`: no published figure).
    pub leo_kg: Option<f64>,
    /// Payload to sun-synchronous orbit, kg.
    pub sso_kg: Option<f64>,
    /// Where the figures come from.
    pub source: &'static str,
    /// Id and label of the plan line that counts its launches.
    pub line_id: &'static str,
    pub line_label: &'static str,
}

/// The launcher catalogue (docs/plan.md, "Fleet"). Capacities are the makers' figures as
/// reported; a launcher is counted for an orbit only with the figure for that kind of
/// orbit, or with the other kind's figure flagged as such.
pub const LAUNCHERS: [Launcher; 5] = [
    Launcher {
        key: "long-march-8a",
        name: "Long March 8A",
        leo_kg: None,
        sso_kg: Some(7_000.0),
        source: "CASC: 7 t to a 700 km sun-synchronous orbit (People's Daily, 2025-02-12, first flight)",
        line_id: "L1",
        line_label: "launches (Long March 8A)",
    },
    Launcher {
        key: "long-march-5b",
        name: "Long March 5B",
        leo_kg: Some(22_000.0),
        sso_kg: None,
        source: "CALT: more than 22 t to a 200-400 km low Earth orbit (SpaceNews, 2020-05-05)",
        line_id: "L2",
        line_label: "launches (Long March 5B)",
    },
    Launcher {
        key: "zhuque-3",
        name: "Zhuque-3",
        leo_kg: Some(8_000.0),
        sso_kg: None,
        source: "LandSpace: Block 1, 8 t to low Earth orbit with the booster recovered, nearly 12 t expended (2025)",
        line_id: "L3",
        line_label: "launches (Zhuque-3)",
    },
    Launcher {
        key: "falcon-9",
        name: "Falcon 9",
        leo_kg: Some(22_800.0),
        sso_kg: None,
        source: "SpaceX: 22.8 t to low Earth orbit, expendable (Falcon User's Guide)",
        line_id: "L4",
        line_label: "launches (Falcon 9)",
    },
    Launcher {
        key: "starship",
        name: "Starship",
        leo_kg: Some(100_000.0),
        sso_kg: None,
        source: "SpaceX: 100-150 t to low Earth orbit, fully reusable (baseline design; the lower figure)",
        line_id: "L5",
        line_label: "launches (Starship)",
    },
];

/// The catalogue's launcher named `key` (or its name, any case).
pub fn launcher(key: &str) -> Option<&'static Launcher> {
    let k = key.trim().to_ascii_lowercase();
    LAUNCHERS
        .iter()
        .find(|l| l.key == k || l.name.to_ascii_lowercase() == k)
}

impl Launcher {
    /// What it lifts to the plan's orbit, kg, and whether that is the published figure
    /// for this kind of orbit (`false`: the other kind's, which overstates a sun-synchronous
    /// capacity and understates a low-inclination one).
    pub fn capacity_kg(&self, sun_synchronous: bool) -> Option<(f64, bool)> {
        let (own, other) = if sun_synchronous {
            (self.sso_kg, self.leo_kg)
        } else {
            (self.leo_kg, self.sso_kg)
        };
        own.map(|c| (c, true)).or(other.map(|c| (c, false)))
    }
}

/// Launches of one launcher for the fleet.
#[derive(Clone, Debug, PartialEq)]
pub struct Launches {
    pub launcher: &'static Launcher,
    pub capacity_kg: f64,
    pub published_for_orbit: bool,
    /// Whole satellites per launch: floor(capacity / satellite mass); 0 when one does not
    /// fit.
    pub per_launch: u64,
    /// ceil(satellites / per launch); `None` when one satellite does not fit.
    pub launches: Option<u64>,
}

/// The fleet: lines F1-F12 and L1-L5.
#[derive(Clone, Debug, PartialEq)]
pub struct Fleet {
    pub satellites: u64,
    pub mass_kg: f64,
    pub payload_power_w: f64,
    pub array_area_m2: f64,
    pub launch_cny: f64,
    pub manufacturing_cny: f64,
    pub accelerators_cny: f64,
    pub total_cny: f64,
    /// Expected failures over the life, each replaced: satellites x rate x years.
    pub replacements: f64,
    pub replacement_cny: f64,
    pub total_with_replacements_cny: f64,
    pub ground_total_cny: f64,
    pub launches: Vec<Launches>,
}

/// Totals of `satellites` copies of `p`, with `failure_rate_per_year` of them failing a
/// year and replaced, over `lifetime_years`.
pub fn fleet(
    p: &Plan,
    satellites: u64,
    failure_rate_per_year: f64,
    lifetime_years: f64,
    sun_synchronous: bool,
) -> Fleet {
    let n = satellites as f64;
    let m = p.mass.total_kg;
    let launches = LAUNCHERS
        .iter()
        .filter_map(|l| {
            let (capacity_kg, published_for_orbit) = l.capacity_kg(sun_synchronous)?;
            let per_launch = (capacity_kg / m).floor() as u64;
            Some(Launches {
                launcher: l,
                capacity_kg,
                published_for_orbit,
                per_launch,
                launches: (per_launch > 0).then(|| satellites.div_ceil(per_launch)),
            })
        })
        .collect();
    let replacements = n * failure_rate_per_year * lifetime_years;
    let total_cny = n * p.space.total_cny;
    let replacement_cny = replacements * p.space.total_cny;
    Fleet {
        satellites,
        mass_kg: n * m,
        payload_power_w: n * p.compute.payload_power_w,
        array_area_m2: n * p.power.array_area_m2,
        launch_cny: n * p.space.launch_cny,
        manufacturing_cny: n * p.space.manufacturing_cny,
        accelerators_cny: n * p.space.accelerators_cny,
        total_cny,
        replacements,
        replacement_cny,
        total_with_replacements_cny: total_cny + replacement_cny,
        ground_total_cny: n * p.ground.total_cny,
        launches,
    }
}

/// The largest fleet `size_for_power` considers.
pub const MAX_SATELLITES: f64 = 1e7;

/// Sizes a fleet for `total_power_w` of payload with satellites that `limit` lifts in one
/// piece: the fewest satellites whose design fits its capacity to the orbit. Returns the
/// one-satellite plan and the number of satellites.
pub fn size_for_power(
    input: &PlanInput,
    total_power_w: f64,
    limit: &Launcher,
) -> Result<(Plan, u64), FleetError> {
    let sso = matches!(input.orbit, OrbitChoice::SunSynchronous { .. });
    let (capacity, _) = limit
        .capacity_kg(sso)
        .ok_or(FleetError::NoCapacity(limit.name))?;
    let mut n: u64 = 1;
    for _ in 0..64 {
        let mut one = input.clone();
        one.compute = ComputeTarget::PowerW(total_power_w / n as f64);
        let p = plan(&one)?;
        if p.mass.total_kg <= capacity {
            return Ok((p, n));
        }
        // Mass grows about in proportion to power: aim there, and always move on.
        let guess = (n as f64 * p.mass.total_kg / capacity).ceil();
        if !(guess.is_finite() && guess <= MAX_SATELLITES) {
            return Err(FleetError::TooMany {
                launcher: limit.name,
                capacity_kg: capacity,
            });
        }
        n = (guess as u64).max(n + 1);
    }
    Err(FleetError::DoesNotFit {
        launcher: limit.name,
        capacity_kg: capacity,
    })
}

/// Why a fleet cannot be sized.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FleetError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("{0} has no published capacity to this orbit")]
    NoCapacity(&'static str),
    #[error(
        "no satellite of this design fits the {capacity_kg:.0} kg that {launcher} lifts, however small its share of the power"
    )]
    DoesNotFit {
        launcher: &'static str,
        capacity_kg: f64,
    },
    #[error(
        "more than {} satellites of at most {capacity_kg:.0} kg ({launcher}) would be needed: ask for less power or a larger launcher",
        MAX_SATELLITES
    )]
    TooMany {
        launcher: &'static str,
        capacity_kg: f64,
    },
}

impl Fleet {
    /// The fleet's lines, in print order.
    pub fn lines(&self) -> Vec<PlanLine> {
        let l = |id, label, value, unit, formula| line(id, "fleet", label, value, unit, formula);
        let mut out = vec![
            l(
                "F1",
                "satellites",
                self.satellites as f64,
                "",
                "input, or sized for the total power",
            ),
            l(
                "F2",
                "fleet payload power",
                self.payload_power_w,
                "W",
                "F1 x C4",
            ),
            l(
                "F3",
                "fleet array area",
                self.array_area_m2,
                "m2",
                "F1 x P4",
            ),
            l("F4", "fleet launch mass", self.mass_kg, "kg", "F1 x M7"),
            l("F5", "fleet launch cost", self.launch_cny, "CNY", "F1 x S1"),
            l(
                "F6",
                "fleet manufacturing cost",
                self.manufacturing_cny,
                "CNY",
                "F1 x S2",
            ),
            l(
                "F7",
                "fleet accelerators",
                self.accelerators_cny,
                "CNY",
                "F1 x S3",
            ),
            l("F8", "fleet cost", self.total_cny, "CNY", "F1 x S4"),
            l(
                "F9",
                "expected replacements",
                self.replacements,
                "",
                "F1 x failure rate x lifetime",
            ),
            l(
                "F10",
                "replacement cost",
                self.replacement_cny,
                "CNY",
                "F9 x S4",
            ),
            l(
                "F11",
                "fleet cost with replacements",
                self.total_with_replacements_cny,
                "CNY",
                "F8 + F10",
            ),
            l(
                "F12",
                "ground data centres of the same compute",
                self.ground_total_cny,
                "CNY",
                "F1 x G6",
            ),
        ];
        for x in &self.launches {
            if let Some(n) = x.launches {
                let formula = if x.published_for_orbit {
                    "ceil(F1 / floor(capacity / M7))"
                } else {
                    "ceil(F1 / floor(capacity / M7)), capacity for the other kind of orbit"
                };
                let (id, label) = (x.launcher.line_id, x.launcher.line_label);
                out.push(line(id, "launches", label, n as f64, "", formula));
            }
        }
        out
    }

    /// What stops a satellite from being launched in one piece, as sentences.
    pub fn warnings(&self, one_satellite_kg: f64) -> Vec<String> {
        let too_small: Vec<&Launches> = self
            .launches
            .iter()
            .filter(|x| x.launches.is_none())
            .collect();
        if too_small.is_empty() {
            return vec![];
        }
        let tonnes = one_satellite_kg / 1_000.0;
        if too_small.len() == self.launches.len() {
            let largest = too_small
                .iter()
                .max_by(|a, b| a.capacity_kg.total_cmp(&b.capacity_kg))
                .expect("not empty");
            return vec![format!(
                "one satellite ({tonnes:.1} t) cannot be launched in one piece on any launcher \
                 of the catalogue (the largest, {}, lifts {:.1} t to this orbit): size a fleet \
                 with --total-compute-power-w instead",
                largest.launcher.name,
                largest.capacity_kg / 1_000.0
            )];
        }
        let names: Vec<String> = too_small
            .iter()
            .map(|x| format!("{} ({:.1} t)", x.launcher.name, x.capacity_kg / 1_000.0))
            .collect();
        vec![format!(
            "one satellite ({tonnes:.1} t) is too heavy to launch in one piece on {}",
            names.join(", ")
        )]
    }
}
