//! Satellite IoT store and forward: terminals uplink small messages to whichever satellite
//! they see, each satellite holds them in a bounded buffer and dumps them, first in first
//! out, at its next ground-station contact.
//!
//! Pure and deterministic. Time is integer nanoseconds on the caller's axis; windows come
//! from the contact plan (`tiandi_orbit::find_contacts` or anything else). Every message
//! ends in exactly one of four books (see [`IotOutcome`]), and
//! `sent = on_terminal + delivered + stored + dropped` holds by construction and is checked.
//!
//! Not modelled yet: forwarding over inter-satellite links, uplink contention between
//! terminals (each terminal's uplink is serialised, terminals do not share a channel), and
//! priorities. A message that would overflow a satellite's buffer is dropped (tail drop).

use std::collections::VecDeque;

use glam::DVec3;
use rayon::prelude::*;
use tiandi_orbit::{EarthRotation, Epoch, GroundStation, PropagationError, Satellite};

/// One window during which a link is usable: `[start_ns, end_ns)` towards satellite `sat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub sat: u32,
    pub start_ns: i64,
    pub end_ns: i64,
}

/// Link and buffer figures of an IoT constellation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IotConfig {
    /// One message, bytes on air (payload and framing).
    pub message_bytes: u32,
    /// Terminal to satellite, bit/s.
    pub uplink_bps: f64,
    /// Satellite to ground station, bit/s.
    pub downlink_bps: f64,
    /// Messages one satellite can hold.
    pub buffer_messages: u32,
}

impl IotConfig {
    fn tx_ns(&self, bps: f64) -> i64 {
        (f64::from(self.message_bytes) * 8.0 / bps * 1e9).ceil() as i64
    }
    /// Time to send one message up, ns.
    pub fn uplink_ns(&self) -> i64 {
        self.tx_ns(self.uplink_bps)
    }
    /// Time to send one message down, ns.
    pub fn downlink_ns(&self) -> i64 {
        self.tx_ns(self.downlink_bps)
    }
}

/// A bad store-and-forward request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IotError {
    #[error("{field}: {value} must be a positive finite number")]
    NotPositive { field: &'static str, value: f64 },
    #[error("window {index} of {list}: end {end_ns} ns is not after start {start_ns} ns")]
    EmptyWindow {
        list: &'static str,
        index: usize,
        start_ns: i64,
        end_ns: i64,
    },
    #[error("window {index} of {list} names satellite {sat}, but there are {n_sats}")]
    UnknownSatellite {
        list: &'static str,
        index: usize,
        sat: u32,
        n_sats: usize,
    },
    #[error("message {index} comes from terminal {terminal}, but there are {n_terminals}")]
    UnknownTerminal {
        index: usize,
        terminal: u32,
        n_terminals: usize,
    },
    #[error("messages are not in time order at message {index}")]
    Unsorted { index: usize },
}

/// Where one message ended up by the end of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Never reached a satellite: still queued on its terminal.
    OnTerminal,
    /// Reached a ground station at `at_ns` through satellite `sat`.
    Delivered { sat: u32, at_ns: i64 },
    /// On board satellite `sat` at the end.
    Stored { sat: u32 },
    /// Satellite `sat`'s buffer was full when it arrived.
    Dropped { sat: u32 },
}

/// Per-satellite buffer figures.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BufferStats {
    /// Most messages held at once.
    pub peak: u32,
    /// Time-weighted mean occupancy over the run, messages.
    pub mean: f64,
    /// Messages refused because the buffer was full.
    pub dropped: u64,
}

/// Every message's fate and each satellite's buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct IotOutcome {
    pub fates: Vec<Fate>,
    pub buffers: Vec<BufferStats>,
    pub sent: u64,
    pub on_terminal: u64,
    /// Messages that reached a satellite (accepted or dropped there).
    pub uplinked: u64,
    pub delivered: u64,
    pub stored: u64,
    pub dropped: u64,
}

impl IotOutcome {
    /// Delivered messages' latencies (delivery minus sending), ns, ascending.
    pub fn latencies_ns(&self, sent_ns: &[i64]) -> Vec<i64> {
        let mut l: Vec<i64> = self
            .fates
            .iter()
            .zip(sent_ns)
            .filter_map(|(f, &s)| match f {
                Fate::Delivered { at_ns, .. } => Some(at_ns - s),
                _ => None,
            })
            .collect();
        l.sort_unstable();
        l
    }
}

fn check_windows(
    list: &'static str,
    windows: &[Window],
    n_sats: usize,
    index_base: usize,
) -> Result<(), IotError> {
    for (i, w) in windows.iter().enumerate() {
        if w.end_ns <= w.start_ns {
            return Err(IotError::EmptyWindow {
                list,
                index: index_base + i,
                start_ns: w.start_ns,
                end_ns: w.end_ns,
            });
        }
        if w.sat as usize >= n_sats {
            return Err(IotError::UnknownSatellite {
                list,
                index: index_base + i,
                sat: w.sat,
                n_sats,
            });
        }
    }
    Ok(())
}

/// The first slot of `len_ns` that starts no earlier than `t` and fits inside one of
/// `windows` (sorted by start, may overlap): `(window index, slot start)`.
fn first_slot(windows: &[Window], from: usize, t: i64, len_ns: i64) -> Option<(usize, i64)> {
    windows[from..].iter().enumerate().find_map(|(k, w)| {
        let s = t.max(w.start_ns);
        (s + len_ns <= w.end_ns).then_some((from + k, s))
    })
}

/// Runs store and forward up to `end_ns`.
///
/// - `sent`: `(terminal, sent_ns)` of every message, in time order (ties in any order);
/// - `terminal_windows[i]`: when terminal `i` sees which satellite;
/// - `station_windows[s]`: when satellite `s` sees any ground station (overlaps allowed).
///
/// A terminal sends its queue one message at a time, each to the satellite of the first
/// window in which the whole message fits. A satellite downlinks first in first out, one
/// message at a time, whenever it sees a station; a message that does not fit before LOS
/// waits for the next contact. An arrival that finds the buffer holding
/// `buffer_messages` (counting only messages not yet fully downlinked) is dropped.
pub fn store_and_forward(
    sent: &[(u32, i64)],
    terminal_windows: &[Vec<Window>],
    station_windows: &[Vec<Window>],
    cfg: &IotConfig,
    end_ns: i64,
) -> Result<IotOutcome, IotError> {
    for (field, v) in [
        ("uplink_bps", cfg.uplink_bps),
        ("downlink_bps", cfg.downlink_bps),
        ("message_bytes", f64::from(cfg.message_bytes)),
    ] {
        if !(v.is_finite() && v > 0.0) {
            return Err(IotError::NotPositive { field, value: v });
        }
    }
    let n_sats = station_windows.len();
    let mut base = 0;
    for w in terminal_windows {
        check_windows("terminal windows", w, n_sats, base)?;
        base += w.len();
    }
    base = 0;
    for w in station_windows {
        check_windows("station windows", w, n_sats, base)?;
        base += w.len();
    }
    let sort = |v: &[Window]| {
        let mut v = v.to_vec();
        v.sort_by_key(|w| (w.start_ns, w.end_ns, w.sat));
        v
    };
    let terminal_windows: Vec<Vec<Window>> = terminal_windows.iter().map(|w| sort(w)).collect();
    let station_windows: Vec<Vec<Window>> = station_windows.iter().map(|w| sort(w)).collect();

    let (up, down) = (cfg.uplink_ns(), cfg.downlink_ns());
    let mut fates = vec![Fate::OnTerminal; sent.len()];
    // Terminal side: (first window still worth looking at, uplink free at).
    let mut term = vec![(0usize, i64::MIN); terminal_windows.len()];
    // (arrival ns, message index) per satellite.
    let mut arrivals: Vec<Vec<(i64, usize)>> = vec![Vec::new(); n_sats];
    let mut last = i64::MIN;
    for (m, &(terminal, t)) in sent.iter().enumerate() {
        if t < last {
            return Err(IotError::Unsorted { index: m });
        }
        last = t;
        let Some(windows) = terminal_windows.get(terminal as usize) else {
            return Err(IotError::UnknownTerminal {
                index: m,
                terminal,
                n_terminals: terminal_windows.len(),
            });
        };
        let (from, free) = &mut term[terminal as usize];
        let ready = t.max(*free);
        if let Some((k, s)) = first_slot(windows, *from, ready, up)
            && s + up <= end_ns
        {
            // Windows ending before `ready` can never serve a later message either.
            while *from < k && windows[*from].end_ns <= ready {
                *from += 1;
            }
            *free = s + up;
            arrivals[windows[k].sat as usize].push((s + up, m));
        } else {
            // The queue is stuck until the end: later messages of this terminal stay too.
            *free = i64::MAX / 2;
        }
    }

    let mut buffers = vec![BufferStats::default(); n_sats];
    let span = (end_ns - sent.first().map_or(end_ns, |s| s.1)).max(1) as f64;
    for (sat, arr) in arrivals.iter_mut().enumerate() {
        arr.sort_unstable();
        let windows = &station_windows[sat];
        let mut on_board: VecDeque<i64> = VecDeque::new();
        let (mut from, mut prev_done, mut held_ns) = (0usize, i64::MIN, 0f64);
        let stats = &mut buffers[sat];
        for &(t, m) in arr.iter() {
            while on_board.front().is_some_and(|&d| d <= t) {
                on_board.pop_front();
            }
            if on_board.len() >= cfg.buffer_messages as usize {
                fates[m] = Fate::Dropped { sat: sat as u32 };
                stats.dropped += 1;
                continue;
            }
            let ready = t.max(prev_done);
            let slot = first_slot(windows, from, ready, down).filter(|&(_, s)| s + down <= end_ns);
            let done = match slot {
                Some((k, s)) => {
                    while from < k && windows[from].end_ns <= ready {
                        from += 1;
                    }
                    fates[m] = Fate::Delivered {
                        sat: sat as u32,
                        at_ns: s + down,
                    };
                    s + down
                }
                None => {
                    fates[m] = Fate::Stored { sat: sat as u32 };
                    from = windows.len();
                    i64::MAX
                }
            };
            prev_done = done;
            on_board.push_back(done);
            stats.peak = stats.peak.max(on_board.len() as u32);
            held_ns += (done.min(end_ns) - t) as f64;
        }
        stats.mean = held_ns / span;
    }

    let mut out = IotOutcome {
        sent: sent.len() as u64,
        on_terminal: 0,
        uplinked: arrivals.iter().map(|a| a.len() as u64).sum(),
        delivered: 0,
        stored: 0,
        dropped: 0,
        fates,
        buffers,
    };
    for f in &out.fates {
        match f {
            Fate::OnTerminal => out.on_terminal += 1,
            Fate::Delivered { .. } => out.delivered += 1,
            Fate::Stored { .. } => out.stored += 1,
            Fate::Dropped { .. } => out.dropped += 1,
        }
    }
    debug_assert_eq!(out.uplinked, out.delivered + out.stored + out.dropped);
    Ok(out)
}

/// Satellite positions (ECEF, km) sampled every second: `ecef[sat][k]` at `start + k` s.
pub struct SampledOrbits {
    pub start: Epoch,
    pub ecef: Vec<Vec<DVec3>>,
    /// Fastest angular motion of any sub-satellite point between two samples, rad/s.
    pub max_rate_rad_s: f64,
}

impl SampledOrbits {
    /// Propagates every satellite once per second over `[start, start + seconds]`.
    pub fn new(sats: &[Satellite], start: Epoch, seconds: u32) -> Result<Self, PropagationError> {
        let n = seconds as usize + 1;
        let rotations: Vec<EarthRotation> = (0..n)
            .map(|k| EarthRotation::at(start.add_ns(k as i64 * 1_000_000_000)))
            .collect();
        let ecef = sats
            .par_iter()
            .map(|sat| {
                rotations
                    .iter()
                    .enumerate()
                    .map(|(k, rot)| {
                        let t = start.add_ns(k as i64 * 1_000_000_000);
                        Ok(rot.teme_to_ecef_position(sat.position_teme_km(t)?))
                    })
                    .collect::<Result<Vec<DVec3>, PropagationError>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let max_rate_rad_s = ecef
            .iter()
            .flat_map(|p| p.windows(2).map(|w| w[0].angle_between(w[1])))
            .fold(0.0, f64::max);
        Ok(SampledOrbits {
            start,
            ecef,
            max_rate_rad_s,
        })
    }
}

/// When each terminal sees each satellite above `min_elevation_deg`, at one-second
/// resolution: a window runs from its first visible sample to one second after its last.
///
/// Fast for many terminals: between passes a terminal skips ahead by the largest power of
/// two seconds in which the satellite cannot close the angle to its footprint's edge (at the
/// fastest sub-satellite motion of the run), and inside a pass it steps 30 s and bisects the last step. This
/// assumes no pass dips below the mask and back within 30 s, which holds for LEO passes
/// (elevation rises, peaks once and falls).
pub fn visibility_windows(
    orbits: &SampledOrbits,
    terminals: &[GroundStation],
    min_elevation_deg: f64,
) -> Vec<Vec<Window>> {
    const STEP: usize = 30;
    // The footprint's half-angle: a satellite at radius r is above elevation e from a
    // terminal at radius R only within central angle acos(R cos e / r) - e, which grows
    // with r, so take the highest radius of the run, plus 0.5 deg for the geodetic normal's
    // tilt from the geocentric direction (at most 0.19 deg).
    let r_max = orbits
        .ecef
        .iter()
        .flat_map(|p| p.iter().map(|x| x.length()))
        .fold(0.0, f64::max);
    let e = min_elevation_deg.max(-89.0).to_radians();
    let sin_e = e.sin();
    let rate = orbits.max_rate_rad_s.max(1e-9) * 1.05;
    // Per terminal: geocentric direction, footprint half-angle, position and up.
    // jumps[i] = (2^i s, cos(rho + 2^i s x rate)): a satellite whose direction is further
    // than that angle from the terminal's cannot rise within 2^i s.
    const JUMPS: usize = 13;
    type Site = (DVec3, [(usize, f64); JUMPS], DVec3, DVec3);
    let sites: Vec<Site> = terminals
        .iter()
        .map(|gs| {
            let rg = gs.ecef_km.length();
            let rho = ((rg * e.cos() / r_max).clamp(-1.0, 1.0)).acos() - e + 0.5f64.to_radians();
            let jumps = std::array::from_fn(|i| {
                let j = 1usize << (JUMPS - 1 - i);
                let a = rho + j as f64 * rate;
                (
                    j,
                    if a < std::f64::consts::PI {
                        a.cos()
                    } else {
                        -2.0
                    },
                )
            });
            (gs.ecef_km.normalize_or_zero(), jumps, gs.ecef_km, gs.up())
        })
        .collect();
    // Satellite by satellite, so that one satellite's samples stay in cache while every
    // terminal is scanned; then regrouped per terminal.
    let per_sat: Vec<Vec<(u32, Window)>> = orbits
        .ecef
        .par_iter()
        .enumerate()
        .map(|(sat, p)| {
            let n = p.len();
            let dirs: Vec<DVec3> = p.iter().map(|x| x.normalize_or_zero()).collect();
            let mut out = Vec::new();
            for (t, &(g, ref jumps, pos, up_dir)) in sites.iter().enumerate() {
                // elevation >= e  <=>  rho . up >= |rho| sin e
                let up = |k: usize| {
                    let r = p[k] - pos;
                    r.dot(up_dir) >= r.length() * sin_e
                };
                let mut k = 0;
                while k < n {
                    if up(k) {
                        // Inside a pass: coarse steps, then bisect the last one.
                        let mut last_up = k;
                        let mut probe = (k + STEP).min(n - 1);
                        while probe > last_up && up(probe) {
                            last_up = probe;
                            probe = (probe + STEP).min(n - 1);
                        }
                        let mut hi = if probe > last_up { probe } else { n };
                        while hi - last_up > 1 {
                            let mid = (last_up + hi) / 2;
                            if up(mid) {
                                last_up = mid;
                            } else {
                                hi = mid;
                            }
                        }
                        out.push((
                            t as u32,
                            Window {
                                sat: sat as u32,
                                start_ns: k as i64 * 1_000_000_000,
                                end_ns: ((last_up + 1).min(n - 1) as i64).max(k as i64 + 1)
                                    * 1_000_000_000,
                            },
                        ));
                        k = hi + 1;
                        continue;
                    }
                    let c = dirs[k].dot(g);
                    k += jumps.iter().find(|j| c < j.1).map_or(1, |j| j.0);
                }
            }
            out
        })
        .collect();
    let mut windows = vec![Vec::new(); terminals.len()];
    for (t, w) in per_sat.into_iter().flatten() {
        windows[t as usize].push(w);
    }
    windows
        .par_iter_mut()
        .for_each(|w: &mut Vec<Window>| w.sort_by_key(|w| (w.start_ns, w.sat)));
    windows
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: i64 = 1_000_000_000;

    fn cfg(buffer: u32) -> IotConfig {
        // 100 B at 1 kbit/s up (0.8 s), 10 kbit/s down (0.08 s).
        IotConfig {
            message_bytes: 100,
            uplink_bps: 1_000.0,
            downlink_bps: 10_000.0,
            buffer_messages: buffer,
        }
    }

    fn w(sat: u32, a: i64, b: i64) -> Window {
        Window {
            sat,
            start_ns: a * S,
            end_ns: b * S,
        }
    }

    #[test]
    fn one_terminal_always_in_view_waits_for_the_next_station_contact() {
        // The terminal sees the satellite all day; the station at [1000, 1300) and
        // [7000, 7300) s. Worked by hand: latency = next contact's AOS - sent + 0.8 + 0.08 s
        // when the message is aboard before AOS, else sent + 0.8 + 0.08 s.
        let c = cfg(1_000);
        let sent: Vec<(u32, i64)> = [10, 500, 999, 1_100, 2_000, 6_999]
            .map(|t| (0, t * S))
            .into();
        let out = store_and_forward(
            &sent,
            &[vec![w(0, 0, 86_400)]],
            &[vec![w(0, 1_000, 1_300), w(0, 7_000, 7_300)]],
            &c,
            86_400 * S,
        )
        .unwrap();
        let up_down = c.uplink_ns() + c.downlink_ns();
        assert_eq!((c.uplink_ns(), c.downlink_ns()), (800_000_000, 80_000_000));
        let expect = [
            1_000 * S + c.downlink_ns(),
            1_000 * S + 2 * c.downlink_ns(),
            // aboard at 999.8 s, after the first two: queued behind them.
            1_000 * S + 3 * c.downlink_ns(),
            1_100 * S + up_down,
            7_000 * S + c.downlink_ns(),
            // aboard at 6999.8 s, behind the one from 2000 s.
            7_000 * S + 2 * c.downlink_ns(),
        ];
        let got: Vec<i64> = out
            .fates
            .iter()
            .map(|f| match f {
                Fate::Delivered { at_ns, .. } => *at_ns,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn a_full_buffer_drops_and_the_end_stores() {
        let sent: Vec<(u32, i64)> = (0..5).map(|k| (0, k * 10 * S)).collect();
        let out = store_and_forward(
            &sent,
            &[vec![w(0, 0, 1_000)]],
            &[vec![w(0, 500, 501)]],
            &cfg(3),
            400 * S,
        )
        .unwrap();
        // No contact before the end: three stored, two dropped.
        assert_eq!((out.stored, out.dropped, out.delivered), (3, 2, 0));
        assert_eq!(out.buffers[0].peak, 3);
        assert_eq!(out.buffers[0].dropped, 2);
    }

    #[test]
    fn a_terminal_that_never_sees_a_satellite_keeps_its_messages() {
        let out = store_and_forward(
            &[(0, 0), (1, S)],
            &[vec![], vec![w(0, 0, 10)]],
            &[vec![w(0, 5, 6)]],
            &cfg(10),
            100 * S,
        )
        .unwrap();
        assert_eq!(out.fates[0], Fate::OnTerminal);
        assert_eq!(
            out.fates[1],
            Fate::Delivered {
                sat: 0,
                at_ns: 5 * S + 80_000_000
            }
        );
    }

    #[test]
    fn bad_input_is_refused_with_its_place() {
        let e = store_and_forward(&[(3, 0)], &[vec![]], &[vec![]], &cfg(1), S).unwrap_err();
        assert!(e.to_string().contains("terminal 3"), "{e}");
        let e = store_and_forward(&[], &[vec![w(2, 0, 1)]], &[vec![]], &cfg(1), S).unwrap_err();
        assert!(e.to_string().contains("satellite 2"), "{e}");
        let e = store_and_forward(&[(0, 5), (0, 1)], &[vec![]], &[vec![]], &cfg(1), S).unwrap_err();
        assert_eq!(e, IotError::Unsorted { index: 1 });
        let mut c = cfg(1);
        c.uplink_bps = f64::NAN;
        assert!(store_and_forward(&[], &[], &[], &c, S).is_err());
    }

    proptest! {
        /// The swarm: many terminals and satellites with random windows; every message is
        /// in exactly one book, deliveries fall inside a station window of their satellite,
        /// and no latency beats the two transmissions.
        #[test]
        fn books_balance_in_a_swarm(
            n_sats in 1usize..6,
            n_terms in 1usize..20,
            seeds in proptest::collection::vec((0u32..20, 0i64..3_600, 1i64..600, 0u32..6), 1..80),
            sends in proptest::collection::vec((0u32..20, 0i64..3_600), 0..400),
            buffer in 1u32..30,
        ) {
            let mut tw = vec![Vec::new(); n_terms];
            let mut sw = vec![Vec::new(); n_sats];
            for (k, &(a, start, len, sat)) in seeds.iter().enumerate() {
                let sat = sat % n_sats as u32;
                if k % 2 == 0 {
                    tw[a as usize % n_terms].push(w(sat, start, start + len));
                } else {
                    sw[sat as usize].push(w(sat, start, start + len / 10 + 1));
                }
            }
            let mut sent: Vec<(u32, i64)> = sends.iter().map(|&(t, s)| (t % n_terms as u32, s * S)).collect();
            sent.sort_by_key(|s| s.1);
            let c = cfg(buffer);
            let out = store_and_forward(&sent, &tw, &sw, &c, 3_600 * S).unwrap();
            prop_assert_eq!(out.sent, out.on_terminal + out.delivered + out.stored + out.dropped);
            prop_assert_eq!(out.uplinked, out.delivered + out.stored + out.dropped);
            prop_assert_eq!(out.dropped, out.buffers.iter().map(|b| b.dropped).sum::<u64>());
            for (f, &(_, s)) in out.fates.iter().zip(&sent) {
                if let Fate::Delivered { sat, at_ns } = *f {
                    prop_assert!(at_ns - s >= c.uplink_ns() + c.downlink_ns());
                    prop_assert!(at_ns <= 3_600 * S);
                    prop_assert!(sw[sat as usize].iter().any(|w| w.start_ns + c.downlink_ns() <= at_ns && at_ns <= w.end_ns));
                }
            }
            for b in &out.buffers {
                prop_assert!(b.peak <= buffer);
            }
        }
    }
}
