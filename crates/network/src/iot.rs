//! Satellite IoT store and forward: terminals uplink small messages to whichever satellite
//! they see, each satellite holds them in a bounded buffer and dumps them, first in first
//! out, at its next ground-station contact.
//!
//! Pure and deterministic. Time is integer nanoseconds on the caller's axis; windows come
//! from the contact plan (`tiandi_orbit::find_contacts` or [`visibility_windows`]). Every
//! message ends with exactly one [`Fate`]: on its terminal, delivered, stored on board or
//! dropped. Each fate carries the times that let a caller check it (the swarm test replays
//! every satellite's buffer from them).
//!
//! Not modelled yet: forwarding over inter-satellite links, uplink contention between
//! terminals (each terminal's uplink is serialised, terminals do not share a channel), and
//! priorities. A message that would overflow a satellite's buffer is dropped (tail drop).

use std::borrow::Cow;
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

/// Latest time, and longest transmission, accepted (about 73 years in ns): any sum of two
/// stays inside `i64`.
pub const TIME_LIMIT_NS: i64 = i64::MAX / 4;

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
    #[error("{what}: {value} ns is beyond the {limit} ns this model accepts")]
    TooLong {
        what: String,
        value: i64,
        limit: i64,
    },
    #[error("{list} {owner}, window {index}: end {end_ns} ns is not after start {start_ns} ns")]
    EmptyWindow {
        list: &'static str,
        owner: usize,
        index: usize,
        start_ns: i64,
        end_ns: i64,
    },
    #[error("{list} {owner}, window {index}: satellite {sat}, but there are {n_sats}")]
    UnknownSatellite {
        list: &'static str,
        owner: usize,
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
    #[error("elevation mask {0} deg: expected 0 to 90")]
    BadElevation(f64),
}

/// Where one message ended up by the end of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Never reached a satellite: still queued on its terminal.
    OnTerminal,
    /// Taken aboard satellite `sat` at `aboard_ns` (uplink finished), on the ground at
    /// `at_ns` (downlink finished).
    Delivered {
        sat: u32,
        aboard_ns: i64,
        at_ns: i64,
    },
    /// Taken aboard satellite `sat` at `aboard_ns`, still on board at the end.
    Stored { sat: u32, aboard_ns: i64 },
    /// Reached satellite `sat` at `at_ns` and found its buffer full.
    Dropped { sat: u32, at_ns: i64 },
}

/// Per-satellite buffer figures.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BufferStats {
    /// Most messages held at once.
    pub peak: u32,
    /// Time-weighted mean occupancy from the first message sent to the end, messages.
    pub mean: f64,
    /// Messages refused because the buffer was full.
    pub dropped: u64,
}

/// Every message's fate (in the order sent), each satellite's buffer, and the fates'
/// counts.
#[derive(Debug, Clone, PartialEq)]
pub struct IotOutcome {
    pub fates: Vec<Fate>,
    pub buffers: Vec<BufferStats>,
    pub on_terminal: u64,
    pub delivered: u64,
    pub stored: u64,
    pub dropped: u64,
}

impl IotOutcome {
    /// Delivered messages' latencies (delivery minus sending), ns, ascending. `sent` is the
    /// list given to [`store_and_forward`].
    pub fn latencies_ns(&self, sent: &[(u32, i64)]) -> Vec<i64> {
        assert_eq!(sent.len(), self.fates.len(), "not this outcome's messages");
        let mut l: Vec<i64> = self
            .fates
            .iter()
            .zip(sent)
            .filter_map(|(f, &(_, s))| match f {
                Fate::Delivered { at_ns, .. } => Some(at_ns - s),
                _ => None,
            })
            .collect();
        l.sort_unstable();
        l
    }
}

fn check_windows(list: &'static str, lists: &[Vec<Window>], n_sats: usize) -> Result<(), IotError> {
    for (owner, windows) in lists.iter().enumerate() {
        for (index, w) in windows.iter().enumerate() {
            if w.end_ns <= w.start_ns {
                return Err(IotError::EmptyWindow {
                    list,
                    owner,
                    index,
                    start_ns: w.start_ns,
                    end_ns: w.end_ns,
                });
            }
            if w.sat as usize >= n_sats {
                return Err(IotError::UnknownSatellite {
                    list,
                    owner,
                    index,
                    sat: w.sat,
                    n_sats,
                });
            }
            for t in [w.start_ns, w.end_ns] {
                check_time(|| format!("{list} {owner}, window {index}"), t)?;
            }
        }
    }
    Ok(())
}

fn check_time(what: impl Fn() -> String, t: i64) -> Result<(), IotError> {
    if t.abs() > TIME_LIMIT_NS {
        return Err(IotError::TooLong {
            what: what(),
            value: t,
            limit: TIME_LIMIT_NS,
        });
    }
    Ok(())
}

/// Windows sorted by (start, end, satellite), borrowed when they already are.
fn sorted(windows: &[Window]) -> Cow<'_, [Window]> {
    let key = |w: &Window| (w.start_ns, w.end_ns, w.sat);
    if windows.is_sorted_by_key(key) {
        Cow::Borrowed(windows)
    } else {
        let mut v = windows.to_vec();
        v.sort_by_key(key);
        Cow::Owned(v)
    }
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
    let (up, down) = (cfg.uplink_ns(), cfg.downlink_ns());
    check_time(|| "uplink of one message".into(), up)?;
    check_time(|| "downlink of one message".into(), down)?;
    check_time(|| "end".into(), end_ns)?;
    let n_sats = station_windows.len();
    check_windows("terminal", terminal_windows, n_sats)?;
    check_windows("satellite", station_windows, n_sats)?;
    let terminal_windows: Vec<Cow<[Window]>> = terminal_windows.iter().map(|w| sorted(w)).collect();
    let station_windows: Vec<Cow<[Window]>> = station_windows.iter().map(|w| sorted(w)).collect();

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
        check_time(|| format!("message {m}"), t)?;
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
                fates[m] = Fate::Dropped {
                    sat: sat as u32,
                    at_ns: t,
                };
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
                        aboard_ns: t,
                        at_ns: s + down,
                    };
                    s + down
                }
                None => {
                    fates[m] = Fate::Stored {
                        sat: sat as u32,
                        aboard_ns: t,
                    };
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
        on_terminal: 0,
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
/// resolution: a window runs from its first visible sample to one second after its last
/// (so a pass still open at the last sample ends one second after the run). The mask is
/// 0 to 90 deg.
///
/// Fast for many terminals: between passes a terminal skips ahead by the largest power of
/// two seconds in which the satellite cannot close the angle to its footprint's edge (at the
/// fastest sub-satellite motion of the run), and inside a pass it steps 30 s and bisects
/// the last step. This assumes no pass dips below the mask and back within 30 s, which
/// holds for LEO passes above the horizon (elevation rises, peaks once and falls).
pub fn visibility_windows(
    orbits: &SampledOrbits,
    terminals: &[GroundStation],
    min_elevation_deg: f64,
) -> Result<Vec<Vec<Window>>, IotError> {
    if !(0.0..=90.0).contains(&min_elevation_deg) {
        return Err(IotError::BadElevation(min_elevation_deg));
    }
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
    let e = min_elevation_deg.to_radians();
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
                                end_ns: (last_up as i64 + 1) * 1_000_000_000,
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
        .for_each(|w: &mut Vec<Window>| w.sort_by_key(|w| (w.start_ns, w.end_ns, w.sat)));
    Ok(windows)
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
        // Held from 0.8, 10.8 and 20.8 s to 400 s, over the 400 s from the first send.
        assert!((out.buffers[0].mean - (399.2 + 389.2 + 379.2) / 400.0).abs() < 1e-12);
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
                aboard_ns: 1_800_000_000,
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
        let e = store_and_forward(&[], &[vec![], vec![w(0, 3, 3)]], &[vec![]], &cfg(1), S);
        assert!(e.unwrap_err().to_string().contains("terminal 1, window 0"));
        let mut c = cfg(1);
        c.uplink_bps = f64::NAN;
        assert!(store_and_forward(&[], &[], &[], &c, S).is_err());
        // A rate so low that one message takes centuries, and times near i64::MAX, are
        // refused rather than overflowing.
        c.uplink_bps = 1e-9;
        let e = store_and_forward(&[(0, 0)], &[vec![]], &[vec![]], &c, S).unwrap_err();
        assert!(e.to_string().contains("uplink of one message"), "{e}");
        let e = store_and_forward(&[(0, i64::MAX - 1)], &[vec![]], &[vec![]], &cfg(1), S);
        assert!(e.unwrap_err().to_string().contains("message 0"));
        let far = Window {
            sat: 0,
            start_ns: i64::MAX - 10,
            end_ns: i64::MAX,
        };
        let e = store_and_forward(&[], &[vec![far]], &[vec![]], &cfg(1), S).unwrap_err();
        assert!(e.to_string().contains("terminal 0, window 0"), "{e}");
    }

    /// The earliest `len_ns` slot at or after `t` inside one of `windows`, written as a
    /// scan over every window (the model keeps a cursor instead).
    fn earliest(windows: &[Window], t: i64, len_ns: i64) -> Option<i64> {
        windows
            .iter()
            .map(|w| t.max(w.start_ns))
            .zip(windows)
            .filter(|(s, w)| s + len_ns <= w.end_ns)
            .map(|(s, _)| s)
            .min()
    }

    proptest! {
        /// The swarm: many terminals and satellites with random, overlapping windows. Every
        /// fate is replayed from its times: each terminal sends in order, each upload and
        /// download uses the earliest slot it could, each satellite downlinks first in first
        /// out, an accepted arrival never overfills the buffer and a dropped one always
        /// finds it full; peak, mean and drop counts agree with the replay.
        #[test]
        fn every_fate_replays_in_a_swarm(
            n_sats in 1usize..6,
            n_terms in 1usize..20,
            seeds in proptest::collection::vec((0u32..20, 0i64..3_600, 1i64..600, 0u32..6), 1..80),
            sends in proptest::collection::vec((0u32..20, 0i64..3_600), 0..400),
            buffer in 1u32..30,
        ) {
            let end = 3_600 * S;
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
            let mut sent: Vec<(u32, i64)> =
                sends.iter().map(|&(t, s)| (t % n_terms as u32, s * S)).collect();
            sent.sort_by_key(|s| s.1);
            let c = cfg(buffer);
            let (up, down) = (c.uplink_ns(), c.downlink_ns());
            let out = store_and_forward(&sent, &tw, &sw, &c, end).unwrap();
            prop_assert_eq!(out.fates.len(), sent.len());

            // Uplink: per terminal, in order, each at the earliest slot after the previous.
            let mut free = vec![i64::MIN; n_terms];
            for (f, &(term, t)) in out.fates.iter().zip(&sent) {
                let ready = t.max(free[term as usize]);
                let slot = earliest(&tw[term as usize], ready, up).filter(|s| s + up <= end);
                let arrived = match *f {
                    Fate::OnTerminal => None,
                    Fate::Delivered { aboard_ns, .. } | Fate::Stored { aboard_ns, .. } => Some(aboard_ns),
                    Fate::Dropped { at_ns, .. } => Some(at_ns),
                };
                prop_assert_eq!(arrived, slot.map(|s| s + up));
                free[term as usize] = arrived.unwrap_or(i64::MAX / 2);
            }

            // On board: replay each satellite from the accepted messages' intervals.
            for sat in 0..n_sats as u32 {
                let mut held: Vec<(i64, usize, i64)> = Vec::new(); // (aboard, index, gone)
                let mut drops = Vec::new();
                for (m, f) in out.fates.iter().enumerate() {
                    match *f {
                        Fate::Delivered { sat: s, aboard_ns, at_ns } if s == sat => held.push((aboard_ns, m, at_ns)),
                        Fate::Stored { sat: s, aboard_ns } if s == sat => held.push((aboard_ns, m, i64::MAX)),
                        Fate::Dropped { sat: s, at_ns } if s == sat => drops.push(at_ns),
                        _ => {}
                    }
                }
                held.sort_unstable();
                let on_board = |t: i64| held.iter().filter(|h| h.0 <= t && t < h.2).count();
                let mut prev = i64::MIN;
                let mut peak = 0;
                for &(aboard, _, gone) in &held {
                    let slot = (prev != i64::MAX)
                        .then(|| earliest(&sw[sat as usize], aboard.max(prev), down))
                        .flatten()
                        .filter(|s| s + down <= end);
                    prop_assert_eq!(Some(gone).filter(|&g| g != i64::MAX), slot.map(|s| s + down));
                    prev = gone;
                    peak = peak.max(on_board(aboard));
                }
                for &t in &drops {
                    prop_assert_eq!(on_board(t), buffer as usize);
                }
                let b = out.buffers[sat as usize];
                prop_assert!(peak <= buffer as usize);
                prop_assert_eq!(b.peak as usize, peak);
                prop_assert_eq!(b.dropped as usize, drops.len());
                let span = (end - sent.first().map_or(end, |s| s.1)).max(1) as f64;
                let mean = held.iter().map(|h| (h.2.min(end) - h.0) as f64).sum::<f64>() / span;
                prop_assert!((b.mean - mean).abs() <= 1e-9 * mean.max(1.0));
            }
        }
    }
}
