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
    let mut service = Service::default();
    for (k, site) in terminals.iter().enumerate() {
        let passes = passes_of(contacts, k);
        match options.strategy {
            Strategy::HighestElevation => {
                serve_by_steps(k, &passes, sats, site, options, &mut service)?;
            }
            Strategy::KeepUntilLost | Strategy::Predictive => {
                serve_by_events(k, &passes, sats, site, options, &mut service)?;
            }
        }
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
    while t < options.end {
        let best = highest(passes, t, sats, site, None)?.map(|c| c.satellite_idx);
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
            in_view(passes, t)
                .find(|c| c.satellite_idx == s)
                .map(|c| c.los)
                .filter(|&los| los < step_end)
        });
        // During an outage the next AOS ends it, not the next step.
        let rise = serving
            .is_none()
            .then(|| next_aos(passes, t))
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
