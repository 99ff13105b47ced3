//! Store and forward against the contact plan: one satellite, one terminal, one station,
//! latencies worked by hand from `find_contacts` windows.

mod common;

use tiandi_network::iot::{Fate, IotConfig, Window, store_and_forward};
use tiandi_orbit::{Contact, Epoch, GroundStation, find_contacts};

/// Station `idx`'s contacts as windows of satellite 0, ns from `start`.
fn windows_of(contacts: &[Contact], start: Epoch, idx: usize) -> Vec<Window> {
    contacts
        .iter()
        .filter(|c| c.station_idx == idx)
        .map(|c| Window {
            sat: 0,
            start_ns: c.aos.unix_ns() - start.unix_ns(),
            end_ns: c.los.unix_ns() - start.unix_ns(),
        })
        .collect()
}

/// A Tianqi-like narrowband satellite (one of 1 x 1 Walker, 800 km, 45 deg), a buoy in the
/// South China Sea and a station near Beijing, 24 h, a 10 deg mask. One message is sent
/// one second after every station LOS. By hand, first in first out on both hops:
/// aboard = first terminal pass where the whole uplink fits after sending (and after the
/// terminal's previous uplink), plus the uplink time; delivered = first station pass where
/// the downlink fits after that (and after the previous downlink), plus the downlink time.
/// Exact to the nanosecond.
#[test]
fn one_satellite_one_terminal_one_station_by_hand() {
    let sats = common::walker(1, 1, 800.0, 45.0);
    let buoy = GroundStation::new("buoy", 15.0, 115.0, 0.0).unwrap();
    let station = GroundStation::new("Miyun", 40.45, 116.86, 0.0).unwrap();
    let start = common::epoch();
    let end = start.add_ns(86_400_000_000_000);
    let contacts = find_contacts(&sats, &[buoy, station], start, end, 10.0, &|| ()).unwrap();
    let (up_w, down_w) = (
        windows_of(&contacts, start, 0),
        windows_of(&contacts, start, 1),
    );
    assert!(up_w.len() >= 3 && down_w.len() >= 3, "{up_w:?} {down_w:?}");
    let cfg = IotConfig {
        message_bytes: 64,
        uplink_bps: 2_400.0,
        downlink_bps: 9_600.0,
        buffer_messages: 100,
    };
    let sent: Vec<(u32, i64)> = down_w
        .iter()
        .map(|w| (0, w.end_ns + 1_000_000_000))
        .collect();
    let out = store_and_forward(
        &sent,
        std::slice::from_ref(&up_w),
        std::slice::from_ref(&down_w),
        &cfg,
        end.unix_ns() - start.unix_ns(),
    )
    .unwrap();
    let fit = |ws: &[Window], t: i64, len: i64| {
        ws.iter()
            .map(|w| t.max(w.start_ns))
            .zip(ws)
            .find(|(s, w)| s + len <= w.end_ns)
            .map(|(s, _)| s + len)
    };
    let (mut delivered, mut up_free, mut down_free) = (0, 0, 0);
    for (&(_, t), fate) in sent.iter().zip(&out.fates) {
        let aboard = fit(&up_w, t.max(up_free), cfg.uplink_ns());
        up_free = aboard.unwrap_or(i64::MAX / 2);
        let want = aboard.and_then(|a| fit(&down_w, a.max(down_free), cfg.downlink_ns()));
        down_free = want.unwrap_or(i64::MAX / 2);
        match (aboard, want, fate) {
            (
                Some(a),
                Some(at),
                Fate::Delivered {
                    aboard_ns, at_ns, ..
                },
            ) => {
                assert_eq!((*aboard_ns, *at_ns), (a, at));
                delivered += 1;
            }
            (Some(a), None, Fate::Stored { aboard_ns, .. }) => assert_eq!(*aboard_ns, a),
            (None, None, Fate::OnTerminal) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(delivered >= 2, "{delivered} of {}", sent.len());
}

/// The issue's own hand case: the terminal stands at the station, so a message sent after
/// LOS goes up at the next AOS and straight down. Latency = next AOS - sent + uplink +
/// downlink, for every message.
#[test]
fn a_terminal_at_the_station_waits_exactly_for_the_next_contact() {
    let sats = common::walker(1, 1, 800.0, 45.0);
    let station = GroundStation::new("Kashgar", 39.47, 75.99, 0.0).unwrap();
    let start = common::epoch();
    let end = start.add_ns(86_400_000_000_000);
    let contacts = find_contacts(&sats, &[station], start, end, 10.0, &|| ()).unwrap();
    let w = windows_of(&contacts, start, 0);
    assert!(w.len() >= 4, "{w:?}");
    let cfg = IotConfig {
        message_bytes: 40,
        uplink_bps: 1_200.0,
        downlink_bps: 4_800.0,
        buffer_messages: 10,
    };
    // Sent 10 s after each LOS but the last, so the next AOS is the following pass's.
    let sent: Vec<(u32, i64)> = w[..w.len() - 1]
        .iter()
        .map(|x| (0, x.end_ns + 10_000_000_000))
        .collect();
    let out = store_and_forward(
        &sent,
        std::slice::from_ref(&w),
        std::slice::from_ref(&w),
        &cfg,
        w.last().unwrap().end_ns,
    )
    .unwrap();
    let lat = out.latencies_ns(&sent);
    let mut want: Vec<i64> = sent
        .iter()
        .zip(&w[1..])
        .map(|(s, next)| next.start_ns - s.1 + cfg.uplink_ns() + cfg.downlink_ns())
        .collect();
    want.sort_unstable();
    assert_eq!(out.delivered as usize, sent.len());
    assert_eq!(lat, want);
    assert_eq!(out.buffers[0].peak, 1);
}

/// The fast one-second visibility windows against the orbit core's refined contact
/// windows: same passes, every AOS and LOS within 1 s (the sampling), for terminals spread
/// over latitudes 0 to 60 deg and a 12-satellite shell, 24 h.
#[test]
fn visibility_windows_match_find_contacts_within_one_second() {
    use tiandi_network::iot::{SampledOrbits, visibility_windows};
    let sats = common::walker(3, 4, 900.0, 45.0);
    let terminals: Vec<GroundStation> = (0..7)
        .map(|i| {
            GroundStation::new(
                format!("t{i}"),
                10.0 * i as f64,
                17.0 * i as f64 - 50.0,
                0.0,
            )
            .unwrap()
        })
        .collect();
    let start = common::epoch();
    let orbits = SampledOrbits::new(&sats, start, 86_400).unwrap();
    let fast = visibility_windows(&orbits, &terminals, 10.0).unwrap();
    for mask in [-5.0, 90.5, f64::NAN] {
        assert!(
            visibility_windows(&orbits, &terminals, mask).is_err(),
            "{mask}"
        );
    }
    let contacts = find_contacts(
        &sats,
        &terminals,
        start,
        start.add_ns(86_400_000_000_000),
        10.0,
        &|| (),
    )
    .unwrap();
    let mut n = 0;
    for (t, windows) in fast.iter().enumerate() {
        let mut want: Vec<_> = contacts
            .iter()
            .filter(|c| c.station_idx == t)
            .map(|c| {
                (
                    c.satellite_idx as u32,
                    c.aos.unix_ns() - start.unix_ns(),
                    c.los.unix_ns() - start.unix_ns(),
                )
            })
            .collect();
        want.sort_by_key(|w| (w.1, w.0));
        assert_eq!(
            windows.len(),
            want.len(),
            "terminal {t}: {windows:?} against {want:?}"
        );
        for (w, (sat, aos, los)) in windows.iter().zip(&want) {
            assert_eq!(w.sat, *sat);
            assert!(
                (w.start_ns - aos).abs() <= 1_000_000_000,
                "{w:?} {aos} {los}"
            );
            assert!((w.end_ns - los).abs() <= 1_000_000_000, "{w:?} {aos} {los}");
            n += 1;
        }
    }
    assert!(n > 100, "{n} passes");
}
