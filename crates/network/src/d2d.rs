//! Direct-to-device service: which satellite serves each handset terminal over time, the
//! handovers between them and what they cost the sessions in progress (`tiandi d2d`).
//!
//! The serving satellite is chosen from the contact windows of `tiandi_orbit::find_contacts`
//! at the handset's own elevation mask, so a pass begins and ends exactly where `tiandi
//! contacts` says (refined to 1 ms). Three strategies (docs/d2d.md):
//! - **highest elevation**: at every step, the satellite highest in the sky;
//! - **keep until lost**: the serving satellite is kept until its pass ends (LOS), then the
//!   highest of those in view takes over;
//! - **predictive**: from the contact plan, the terminal switches a lead time before the
//!   serving satellite sets, to the satellite in view whose pass lasts longest, when that
//!   pass outlasts the serving one by at least the lead (otherwise it switches at LOS).
//!
//! Every handover interrupts service for the handover time. A span with no satellite in view
//! is an outage. Sessions are dropped by an outage longer than the radio-link-failure timer,
//! or by a handover that fails (a seeded draw per handover and session).

use rayon::prelude::*;
use tiandi_orbit::{Contact, EarthRotation, Epoch, GroundStation, PropagationError, Satellite};

/// How the serving satellite is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    HighestElevation,
    KeepUntilLost,
    Predictive,
}

impl Strategy {
    pub fn key(self) -> &'static str {
        match self {
            Strategy::HighestElevation => "highest-elevation",
            Strategy::KeepUntilLost => "keep-until-lost",
            Strategy::Predictive => "predictive",
        }
    }
}

/// What a run needs besides the satellites, terminals and contacts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServeOptions {
    pub strategy: Strategy,
    pub start: Epoch,
    pub end: Epoch,
    /// Decision step of highest-elevation, ns.
    pub step_ns: i64,
    /// How long before the serving satellite's LOS the predictive strategy switches, ns.
    pub lead_ns: i64,
}

/// One change of serving satellite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handover {
    pub terminal: usize,
    pub at: Epoch,
    pub from: usize,
    pub to: usize,
}

/// A span `[start, end)` during which a terminal has no satellite in view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outage {
    pub terminal: usize,
    pub start: Epoch,
    pub end: Epoch,
}

/// The serving timeline of all terminals.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Service {
    /// Sorted by terminal, then time.
    pub handovers: Vec<Handover>,
    /// Sorted by terminal, then time; clipped to the window.
    pub outages: Vec<Outage>,
}

/// The passes of one terminal, sorted by AOS.
fn passes_of(contacts: &[Contact], terminal: usize) -> Vec<&Contact> {
    let mut v: Vec<&Contact> = contacts
        .iter()
        .filter(|c| c.station_idx == terminal)
        .collect();
    v.sort_by_key(|c| (c.aos, c.satellite_idx));
    v
}

/// Elevation of a satellite from a terminal at `t`, degrees.
fn elevation_deg(sat: &Satellite, site: &GroundStation, t: Epoch) -> Result<f64, PropagationError> {
    let ecef = EarthRotation::at(t).teme_to_ecef_position(sat.position_teme_km(t)?);
    Ok(site.elevation_deg(ecef))
}

/// Passes in view at `t` (AOS <= t < LOS).
fn in_view<'a, 'b>(passes: &'b [&'a Contact], t: Epoch) -> impl Iterator<Item = &'a Contact> + 'b {
    passes
        .iter()
        .copied()
        .filter(move |c| c.aos <= t && t < c.los)
}

/// The pass in view at `t` whose satellite is highest, ties to the lower satellite index.
fn highest<'a>(
    passes: &[&'a Contact],
    t: Epoch,
    sats: &[Satellite],
    site: &GroundStation,
    except: Option<usize>,
) -> Result<Option<&'a Contact>, PropagationError> {
    let mut best: Option<(&Contact, f64)> = None;
    for c in in_view(passes, t).filter(|c| Some(c.satellite_idx) != except) {
        let e = elevation_deg(&sats[c.satellite_idx], site, t)?;
        if best.is_none_or(|(b, be)| e > be || (e == be && c.satellite_idx < b.satellite_idx)) {
            best = Some((c, e));
        }
    }
    Ok(best.map(|(c, _)| c))
}

/// The pass in view at `t` that lasts longest, ties to the lower satellite index.
fn longest<'a>(passes: &[&'a Contact], t: Epoch, except: Option<usize>) -> Option<&'a Contact> {
    in_view(passes, t)
        .filter(|c| Some(c.satellite_idx) != except)
        .min_by_key(|c| (std::cmp::Reverse(c.los), c.satellite_idx))
}

/// The first AOS after `t`, if any.
fn next_aos(passes: &[&Contact], t: Epoch) -> Option<Epoch> {
    passes.iter().map(|c| c.aos).filter(|&a| a > t).min()
}

/// Serves every terminal over the window. `contacts` are the passes of `sats` over
/// `terminals` at the handsets' mask, as `find_contacts` returns them.
pub fn serve(
    sats: &[Satellite],
    terminals: &[GroundStation],
    contacts: &[Contact],
    options: ServeOptions,
) -> Result<Service, PropagationError> {
    // Terminals are independent: served in parallel, joined in terminal order (the first
    // terminal's error in that order, so a failure reads the same on every run).
    let each: Vec<Result<Service, PropagationError>> = terminals
        .par_iter()
        .enumerate()
        .map(|(k, site)| {
            let passes = passes_of(contacts, k);
            let mut one = Service::default();
            match options.strategy {
                Strategy::HighestElevation => {
                    serve_by_steps(k, &passes, sats, site, options, &mut one)?;
                }
                Strategy::KeepUntilLost | Strategy::Predictive => {
                    serve_by_events(k, &passes, sats, site, options, &mut one)?;
                }
            }
            Ok(one)
        })
        .collect();
    let mut service = Service::default();
    for one in each {
        let one = one?;
        service.handovers.extend(one.handovers);
        service.outages.extend(one.outages);
    }
    Ok(service)
}

/// Keep-until-lost and predictive: event by event along the contact plan.
fn serve_by_events(
    k: usize,
    passes: &[&Contact],
    sats: &[Satellite],
    site: &GroundStation,
    options: ServeOptions,
    out: &mut Service,
) -> Result<(), PropagationError> {
    let predictive = options.strategy == Strategy::Predictive;
    let pick = |t: Epoch, except: Option<usize>| -> Result<Option<&Contact>, PropagationError> {
        if predictive {
            Ok(longest(passes, t, except))
        } else {
            highest(passes, t, sats, site, except)
        }
    };
    let mut t = options.start;
    let mut serving: Option<&Contact> = None;
    while t < options.end {
        let Some(s) = serving else {
            match pick(t, None)? {
                Some(c) => serving = Some(c),
                None => {
                    let until = next_aos(passes, t).map_or(options.end, |a| a.min(options.end));
                    out.outages.push(Outage {
                        terminal: k,
                        start: t,
                        end: until,
                    });
                    t = until;
                }
            }
            continue;
        };
        // Predictive leaves the lead before LOS (not before now), but only for a satellite
        // that stays at least the lead longer than the serving one: the new satellite's own
        // early switch then comes no earlier than the old one's LOS, so they never chain.
        if predictive {
            let early = s.los.add_ns(-options.lead_ns).max(t);
            if early < s.los && early < options.end {
                let longer = longest(passes, early, Some(s.satellite_idx))
                    .filter(|c| c.los >= s.los.add_ns(options.lead_ns));
                if let Some(c) = longer {
                    out.handovers.push(Handover {
                        terminal: k,
                        at: early,
                        from: s.satellite_idx,
                        to: c.satellite_idx,
                    });
                    serving = Some(c);
                    t = early;
                    continue;
                }
            }
        }
        // Otherwise at LOS: to the pick among those still in view, or into an outage.
        if s.los >= options.end {
            break;
        }
        serving = pick(s.los, Some(s.satellite_idx))?;
        if let Some(c) = serving {
            out.handovers.push(Handover {
                terminal: k,
                at: s.los,
                from: s.satellite_idx,
                to: c.satellite_idx,
            });
        }
        t = s.los;
    }
    Ok(())
}

/// Highest elevation: a decision at every step.
fn serve_by_steps(
    k: usize,
    passes: &[&Contact],
    sats: &[Satellite],
    site: &GroundStation,
    options: ServeOptions,
    out: &mut Service,
) -> Result<(), PropagationError> {
    let mut serving: Option<usize> = None;
    let mut outage_from: Option<Epoch> = None;
    let mut t = options.start;
    // The passes in view at `t` (AOS <= t < LOS), kept as `t` only grows: those that rose
    // are added from `passes` (sorted by AOS, so `next` is the first still to rise), those
    // that set are dropped. The same passes, in the same order, as `in_view(passes, t)`.
    let mut active: Vec<&Contact> = Vec::new();
    let mut next = 0;
    while t < options.end {
        while next < passes.len() && passes[next].aos <= t {
            active.push(passes[next]);
            next += 1;
        }
        active.retain(|c| t < c.los);
        let best = highest(&active, t, sats, site, None)?.map(|c| c.satellite_idx);
        match (serving, best) {
            (Some(a), Some(b)) if a != b => {
                out.handovers.push(Handover {
                    terminal: k,
                    at: t,
                    from: a,
                    to: b,
                });
            }
            (_, None) if outage_from.is_none() => outage_from = Some(t),
            _ => {}
        }
        if best.is_some()
            && let Some(from) = outage_from.take()
        {
            out.outages.push(Outage {
                terminal: k,
                start: from,
                end: t,
            });
        }
        // A satellite lost between steps is lost at its LOS, not at the next step.
        serving = best;
        let step_end = t.add_ns(options.step_ns).min(options.end);
        let lost = serving.and_then(|s| {
            active
                .iter()
                .find(|c| c.satellite_idx == s)
                .map(|c| c.los)
                .filter(|&los| los < step_end)
        });
        // During an outage the next AOS ends it, not the next step (the first pass not yet
        // risen: no pass before `next` rises after `t`).
        let rise = serving
            .is_none()
            .then(|| passes.get(next).map(|c| c.aos))
            .flatten()
            .filter(|&a| a < step_end);
        t = lost.or(rise).unwrap_or(step_end);
    }
    if let Some(from) = outage_from {
        out.outages.push(Outage {
            terminal: k,
            start: from,
            end: options.end,
        });
    }
    Ok(())
}

/// The index range of `terminal`'s entries in a slice sorted by terminal.
fn range_of<T>(v: &[T], terminal: usize, key: impl Fn(&T) -> usize) -> std::ops::Range<usize> {
    v.partition_point(|x| key(x) < terminal)..v.partition_point(|x| key(x) <= terminal)
}

/// A voice call or data session of one terminal, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    pub terminal: usize,
    pub start: Epoch,
    pub end: Epoch,
    pub voice: bool,
}

/// Why a session ended early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drop {
    /// No satellite in view for longer than the radio-link-failure timer.
    Outage,
    /// A handover interruption longer than the timer.
    LongHandover,
    /// A handover that failed.
    FailedHandover,
}

/// What happened to one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionOutcome {
    /// It began with no satellite in view, so it was never served (neither interrupted
    /// nor dropped).
    pub blocked: bool,
    /// Handovers it went through, up to its end or drop (the one that dropped it
    /// included).
    pub interruptions: u32,
    pub dropped: Option<(Drop, Epoch)>,
}

/// What the sessions suffer: `handover_ns` of silence per handover; a drop when an outage
/// or a handover lasts at least `rlf_ns` (the radio-link-failure timer), or when
/// `handover_fails(session, k)` says the session's k-th handover (from 0) failed. Keyed by
/// session and handover rather than drawn in sequence, the draws are common random numbers:
/// two strategies that give a session the same handovers give it the same fate.
pub fn judge(
    service: &Service,
    sessions: &[Session],
    handover_ns: i64,
    rlf_ns: i64,
    handover_fails: &dyn Fn(usize, u32) -> bool,
) -> Vec<SessionOutcome> {
    sessions
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut outcome = SessionOutcome {
                blocked: false,
                interruptions: 0,
                dropped: None,
            };
            let os = &service.outages[range_of(&service.outages, s.terminal, |o| o.terminal)];
            if os.iter().any(|o| o.start <= s.start && s.start < o.end) {
                outcome.blocked = true;
                return outcome;
            }
            // Events of this terminal within the session, in time order.
            let mut events: Vec<(Epoch, Option<Drop>)> = Vec::new();
            let hs = &service.handovers[range_of(&service.handovers, s.terminal, |h| h.terminal)];
            for h in hs.iter().filter(|h| s.start <= h.at && h.at < s.end) {
                let long = handover_ns >= rlf_ns;
                events.push((h.at, long.then_some(Drop::LongHandover)));
            }
            for o in os {
                let (a, b) = (o.start.max(s.start), o.end.min(s.end));
                if a < b && o.end.unix_ns() - o.start.unix_ns() >= rlf_ns {
                    // The link is declared lost when the timer runs out within the session.
                    let at = o.start.add_ns(rlf_ns).max(s.start);
                    if at < s.end {
                        events.push((at, Some(Drop::Outage)));
                    }
                }
            }
            events.sort_by_key(|e| (e.0, e.1.is_none()));
            for (at, drop) in events {
                match drop {
                    Some(d) => {
                        if d == Drop::LongHandover {
                            outcome.interruptions += 1;
                        }
                        outcome.dropped = Some((d, at));
                        break;
                    }
                    None => {
                        outcome.interruptions += 1;
                        if handover_fails(i, outcome.interruptions - 1) {
                            outcome.dropped = Some((Drop::FailedHandover, at));
                            break;
                        }
                    }
                }
            }
            outcome
        })
        .collect()
}

/// A handset's downlink budget: what a satellite's beam gives a phone at a slant range, and
/// how far the phone can be for the rate it needs. A handset has a far smaller antenna
/// gain and a noisier receiver than a ground station (its G/T is tens of dB lower), so its
/// rate falls with range and the budget, not the horizon, may end its passes.
///
/// `C/N = EIRP density + 10 log10(B / 1 MHz) + G/T - FSPL - losses - k - 10 log10(B)`, with
/// `k = -228.6 dBW/(K Hz)` and free-space loss `FSPL = 20 log10(d / km) + 20 log10(f / GHz)
/// + 92.45 dB`; the rate is Shannon's bound `B log2(1 + C/N)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkBudget {
    /// The satellite beam's EIRP density, dBW/MHz.
    pub eirp_dbw_per_mhz: f64,
    /// The handset's figure of merit, dB/K.
    pub g_over_t_db_k: f64,
    pub frequency_ghz: f64,
    /// Polarisation, shadowing margin, scintillation and atmosphere, dB.
    pub losses_db: f64,
    /// Bandwidth given to one handset, MHz.
    pub bandwidth_mhz: f64,
    /// Rate the handset needs to be served, bit/s.
    pub required_bps: f64,
}

/// Boltzmann's constant, dBW/(K Hz).
pub const BOLTZMANN_DBW_PER_K_HZ: f64 = -228.6;

impl LinkBudget {
    /// Free-space path loss at `range_km`, dB.
    pub fn fspl_db(&self, range_km: f64) -> f64 {
        20.0 * range_km.log10() + 20.0 * self.frequency_ghz.log10() + 92.45
    }

    /// Carrier to noise at `range_km`, dB.
    pub fn cnr_db(&self, range_km: f64) -> f64 {
        self.eirp_dbw_per_mhz + 10.0 * self.bandwidth_mhz.log10() + self.g_over_t_db_k
            - self.fspl_db(range_km)
            - self.losses_db
            - BOLTZMANN_DBW_PER_K_HZ
            - 10.0 * (self.bandwidth_mhz * 1e6).log10()
    }

    /// Shannon's bound on the rate at `range_km`, bit/s.
    pub fn capacity_bps(&self, range_km: f64) -> f64 {
        self.bandwidth_mhz * 1e6 * (1.0 + 10f64.powf(self.cnr_db(range_km) / 10.0)).log2()
    }

    /// The carrier to noise the required rate needs, dB.
    pub fn required_cnr_db(&self) -> f64 {
        10.0 * (2f64.powf(self.required_bps / (self.bandwidth_mhz * 1e6)) - 1.0).log10()
    }

    /// The longest slant range at which the required rate is met, km.
    pub fn max_range_km(&self) -> f64 {
        // C/N falls by 20 dB a decade of range: solve cnr(d) = required from cnr(1 km).
        10f64.powf((self.cnr_db(1.0) - self.required_cnr_db()) / 20.0)
    }

    /// The lowest elevation at which a satellite at geocentric radius `sat_radius_km` meets
    /// the required rate for a handset at radius `site_radius_km` (a sphere through both):
    /// `sin e = (r^2 - R^2 - d^2) / (2 R d)` at the longest range `d`. `None` when even a
    /// satellite overhead is too far; `Some(e)` with `e <= 0` when the budget never binds
    /// above the horizon.
    pub fn mask_deg(&self, site_radius_km: f64, sat_radius_km: f64) -> Option<f64> {
        let (d, r_site, r_sat) = (self.max_range_km(), site_radius_km, sat_radius_km);
        if d < r_sat - r_site {
            return None;
        }
        let s = (r_sat * r_sat - r_site * r_site - d * d) / (2.0 * r_site * d);
        Some(s.clamp(-1.0, 1.0).asin().to_degrees())
    }

    /// The slant range at elevation `elevation_deg` (the inverse of [`Self::mask_deg`]'s
    /// geometry), km.
    pub fn range_km(site_radius_km: f64, sat_radius_km: f64, elevation_deg: f64) -> f64 {
        let (r, s) = (site_radius_km, elevation_deg.to_radians().sin());
        (sat_radius_km * sat_radius_km - r * r * (1.0 - s * s)).sqrt() - r * s
    }
}

#[cfg(test)]
mod budget_tests {
    use super::*;

    /// 3GPP TR 38.821's handheld at S band from LEO 600 km, by hand: EIRP density 34 dBW/MHz,
    /// G/T -31.6 dB/K, 2 GHz, 8.3 dB of losses. FSPL at 600 km = 55.563 + 6.021 + 92.45 =
    /// 154.034 dB; C/N = 34 - 31.6 - 154.034 - 8.3 + 228.6 - 60 = 8.666 dB.
    fn handset(required_bps: f64) -> LinkBudget {
        LinkBudget {
            eirp_dbw_per_mhz: 34.0,
            g_over_t_db_k: -31.6,
            frequency_ghz: 2.0,
            losses_db: 8.3,
            bandwidth_mhz: 1.0,
            required_bps,
        }
    }

    #[test]
    fn the_budget_matches_the_hand_calculation() {
        let b = handset(1e6);
        assert!((b.fspl_db(600.0) - 154.034).abs() < 1e-3);
        assert!(
            (b.cnr_db(600.0) - 8.666).abs() < 1e-3,
            "{}",
            b.cnr_db(600.0)
        );
        // The bandwidth cancels in C/N when the EIRP is given per MHz.
        let wide = LinkBudget {
            bandwidth_mhz: 5.0,
            ..b
        };
        assert!((wide.cnr_db(600.0) - b.cnr_db(600.0)).abs() < 1e-9);
        // 1 Mbit/s in 1 MHz needs log2(1 + C/N) = 1: C/N = 1, 0 dB.
        assert!(b.required_cnr_db().abs() < 1e-12);
        // Range where C/N = 0 dB: 600 km x 10^(8.666 / 20).
        let d = b.max_range_km();
        assert!((d - 600.0 * 10f64.powf(b.cnr_db(600.0) / 20.0)).abs() < 1e-6);
        assert!((b.capacity_bps(d) - 1e6).abs() < 1e-3);
        assert!(b.capacity_bps(600.0) > b.capacity_bps(1_200.0));
    }

    #[test]
    fn the_budget_mask_is_where_the_range_is_the_longest_allowed() {
        let (r_site, r_sat) = (6_371.0, 6_921.0);
        for bps in [5e5, 1e6, 2e6, 3e6] {
            let b = handset(bps);
            let e = b.mask_deg(r_site, r_sat).unwrap();
            let d = LinkBudget::range_km(r_site, r_sat, e.max(0.0));
            if e > 0.0 {
                assert!((d - b.max_range_km()).abs() < 1e-6, "{bps}: {d}");
            }
        }
        // 1 Mbit/s: 13.0 deg from 550 km (sin e = 0.2244 by hand); 2 Mbit/s binds harder.
        let e1 = handset(1e6).mask_deg(r_site, r_sat).unwrap();
        assert!((e1 - 12.97).abs() < 0.05, "{e1}");
        assert!(handset(2e6).mask_deg(r_site, r_sat).unwrap() > 30.0);
        // 10 Mbit/s needs C/N of 30 dB: out of reach even overhead.
        assert_eq!(handset(1e7).mask_deg(r_site, r_sat), None);
    }
}
