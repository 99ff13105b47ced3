//! Properties of snapshots and routes on random small constellations: routes use only
//! links of their snapshot, a route's delay is the sum of its links' delays, no route beats
//! light along the straight chord between its ends, Dijkstra agrees with an independent
//! Floyd-Warshall oracle of Hypatia's routing rule, forwarding tables walk the routes'
//! delays, link limits hold, the GSL range rule admits exactly the satellites in range
//! and above the mask, the contact plan replays to every snapshot, and results do not
//! depend on the thread count.

mod common;

use proptest::prelude::*;
use tiandi_network::{
    ForwardingTable, GslStrategy, Horizon, IslPattern, LinkConfig, LinkKind, Network, NetworkSpec,
    RouteTable, RouteTimeline, RoutingMode, SPEED_OF_LIGHT_KM_S, SnapshotBuilder, contact_plan,
};
use tiandi_orbit::{GroundStation, Satellite};

/// Chord bound slack: the straight line and the path lengths are each a handful of f64
/// operations on ~10^4 km values; 1 ns is ~10^6 times their rounding and ~1 million times
/// smaller than any real detour.
const CHORD_SLACK_MS: f64 = 1e-6;
/// Dijkstra and Floyd-Warshall add the same link delays in different orders.
const ORACLE_REL: f64 = 1e-12;

/// (planes, satellites per plane, altitude km, inclination deg, stations, seconds, mask deg)
type Case = (u32, u32, f64, f64, Vec<(f64, f64)>, i64, f64);

fn arb_case() -> impl Strategy<Value = Case> {
    (
        2u32..7,                                                         // planes
        3u32..9,                                                         // satellites per plane
        450.0f64..1_300.0,                                               // altitude, km
        30.0f64..99.0,                                                   // inclination, deg
        prop::collection::vec((-60.0f64..60.0, -180.0f64..180.0), 2..6), // stations
        0i64..6_000,                                                     // seconds after epoch
        0.0f64..35.0,                                                    // elevation mask, deg
    )
}

fn build(
    planes: u32,
    per_plane: u32,
    alt: f64,
    inc: f64,
    stations: &[(f64, f64)],
    mask: f64,
    pattern: IslPattern,
) -> (Vec<Satellite>, Network) {
    let sats = common::walker(planes, per_plane, alt, inc);
    let stations = stations
        .iter()
        .enumerate()
        .map(|(i, &(lat, lon))| common::station(&format!("s{i}"), lat, lon))
        .collect();
    let mut links = LinkConfig::default();
    links.isl.pattern = pattern;
    links.isl.max_range_km = 6_000.0;
    links.gsl.min_elevation_deg = mask;
    let net = Network::new(NetworkSpec {
        n_satellites: sats.len(),
        n_planes: Some(planes),
        stations,
        links,
        ..Default::default()
    })
    .unwrap();
    (sats, net)
}

/// Hypatia's rule computed directly: Floyd-Warshall over the ISL graph, then for each pair
/// of stations the best (visible a, visible b) combination.
fn oracle(snap: &tiandi_network::Snapshot, net: &Network, src: u32, dst: u32) -> f64 {
    let n = net.n_satellites();
    let mut d = vec![vec![f64::INFINITY; n]; n];
    for (i, row) in d.iter_mut().enumerate() {
        row[i] = 0.0;
    }
    for l in snap.links().iter().filter(|l| l.kind == LinkKind::Isl) {
        d[l.a as usize][l.b as usize] = l.delay_ms;
        d[l.b as usize][l.a as usize] = l.delay_ms;
    }
    for k in 0..n {
        for i in 0..n {
            for j in 0..n {
                let via = d[i][k] + d[k][j];
                if via < d[i][j] {
                    d[i][j] = via;
                }
            }
        }
    }
    let gsl = |g: u32| {
        snap.neighbours(g)
            .iter()
            .map(|a| (a.node as usize, a.delay_ms))
            .collect::<Vec<_>>()
    };
    let mut best = f64::INFINITY;
    for (a, da) in gsl(src) {
        for (b, db) in gsl(dst) {
            best = best.min(da + d[a][b] + db);
        }
    }
    best
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn routes_are_valid_and_optimal((planes, per_plane, alt, inc, stations, secs, mask) in arb_case()) {
        let (sats, net) = build(planes, per_plane, alt, inc, &stations, mask, IslPattern::PlusGrid { shift: 1 });
        let mut builder = SnapshotBuilder::new(&net);
        let t = common::epoch().add_ns(secs * 1_000_000_000);
        let snap = builder.build(&sats, t).unwrap();
        let endpoints: Vec<u32> = net.station_ids().map(|i| i.0).collect();
        let mut table = RouteTable::new(&endpoints, net.n_nodes(), RoutingMode::SatellitesOnly);
        table.compute(snap);
        let mut n_pairs = 0;
        for r in table.pairs() {
            n_pairs += 1;
            let expected = oracle(snap, &net, r.src, r.dst);
            if !r.is_reachable() {
                prop_assert!(expected.is_infinite(), "{r:?}: oracle found {expected}");
                continue;
            }
            prop_assert_eq!(r.path.first(), Some(&r.src));
            prop_assert_eq!(r.path.last(), Some(&r.dst));
            prop_assert_eq!(r.links.len() + 1, r.path.len());
            let mut sum = 0.0;
            let mut bottleneck = f64::INFINITY;
            for (k, w) in r.path.windows(2).enumerate() {
                let link = snap.find_link(w[0], w[1]);
                prop_assert!(link.is_some(), "{r:?}: no link {}-{} at {t}", w[0], w[1]);
                let link = link.unwrap();
                prop_assert_eq!(snap.link(r.links[k]), link);
                sum += link.delay_ms;
                bottleneck = bottleneck.min(link.capacity_bps);
                // Ground stations only at the ends (Hypatia's mode).
                if k > 0 {
                    prop_assert!((w[0] as usize) < net.n_satellites(), "{r:?} relays through ground node {}", w[0]);
                }
            }
            prop_assert_eq!(r.delay_ms, sum, "delay is the sum of link delays, in path order");
            prop_assert_eq!(r.bottleneck_bps, bottleneck);
            let chord_ms = net.ground_ecef(r.src).distance(net.ground_ecef(r.dst)) / SPEED_OF_LIGHT_KM_S * 1e3;
            prop_assert!(r.delay_ms + CHORD_SLACK_MS >= chord_ms, "{r:?} beats light ({chord_ms} ms)");
            prop_assert!((r.delay_ms - expected).abs() <= expected * ORACLE_REL, "{r:?} vs oracle {expected}");
        }
        prop_assert_eq!(n_pairs, endpoints.len() * (endpoints.len() - 1));
    }

    #[test]
    fn forwarding_walks_shortest_paths((planes, per_plane, alt, inc, stations, secs, mask) in arb_case()) {
        let (sats, net) = build(planes, per_plane, alt, inc, &stations, mask, IslPattern::PlusGrid { shift: 1 });
        let mut builder = SnapshotBuilder::new(&net);
        let t = common::epoch().add_ns(secs * 1_000_000_000);
        let snap = builder.build(&sats, t).unwrap();
        let endpoints: Vec<u32> = net.station_ids().map(|i| i.0).collect();
        let mut table = RouteTable::new(&endpoints, net.n_nodes(), RoutingMode::SatellitesOnly);
        table.compute(snap);
        let mut fwd = ForwardingTable::new(&endpoints, net.n_nodes(), RoutingMode::SatellitesOnly);
        fwd.compute(snap);
        for r in table.pairs() {
            let d = endpoints.iter().position(|&e| e == r.dst).unwrap();
            // Walk next hops from the source, at most one visit per node.
            let (mut v, mut delay_ms, mut hops) = (r.src, 0.0, 0);
            while let Some(next) = fwd.next_hop(d, v) {
                prop_assert!(hops < net.n_nodes(), "{r:?}: forwarding loop");
                prop_assert!(v == r.src || (v as usize) < net.n_satellites(), "{r:?}: relays through {v}");
                delay_ms += snap.find_link(v, next).expect("next hop over a link").delay_ms;
                (v, hops) = (next, hops + 1);
            }
            if r.is_reachable() {
                prop_assert_eq!(v, r.dst, "{:?}: forwarding stops at {}", r, v);
                prop_assert!((delay_ms - r.delay_ms).abs() <= r.delay_ms * ORACLE_REL, "{r:?}: walked {delay_ms} ms");
            } else {
                prop_assert_eq!(hops, 0, "{:?}: forwarding where no route exists", r);
            }
        }
    }

    #[test]
    fn range_rule_admits_by_slant_range((planes, per_plane, alt, inc, stations, secs, mask) in arb_case(), max_range_km in 500.0f64..3_000.0) {
        let (sats, net) = build(planes, per_plane, alt, inc, &stations, mask, IslPattern::None);
        let mut spec = net.spec().clone();
        spec.links.gsl.max_range_km = Some(max_range_km);
        let ranged = Network::new(spec).unwrap();
        let t = common::epoch().add_ns(secs * 1_000_000_000);
        let mut plain = SnapshotBuilder::new(&net);
        let plain = plain.build(&sats, t).unwrap();
        let mut builder = SnapshotBuilder::new(&ranged);
        let snap = builder.build(&sats, t).unwrap();
        let pos = snap.sat_ecef_km();
        for (g, id) in ranged.station_ids().enumerate() {
            let gs: &GroundStation = &ranged.spec().stations[g].station;
            let held: Vec<u32> = snap.neighbours(id.0).iter().map(|a| a.node).collect();
            let unranged: Vec<u32> = plain.neighbours(id.0).iter().map(|a| a.node).collect();
            for s in 0..ranged.n_satellites() as u32 {
                let p = pos[s as usize];
                // Exactly the satellites the mask admits without the rule, less those beyond range.
                let expected = unranged.contains(&s) && p.distance_squared(gs.ecef_km) <= max_range_km * max_range_km;
                prop_assert_eq!(held.contains(&s), expected, "station {} sat {} at {:.3} km, {:.3} deg", g, s, p.distance(gs.ecef_km), gs.elevation_deg(p));
            }
        }
    }

    #[test]
    fn link_limits_hold((planes, per_plane, alt, inc, stations, secs, mask) in arb_case(), k in 1u32..6, terminals in 1u32..5, antennas in 1u32..3) {
        let (sats, mut net) = build(planes, per_plane, alt, inc, &stations, mask, IslPattern::NearestK { k });
        let mut spec = net.spec().clone();
        spec.links.isl.max_terminals = terminals;
        spec.links.gsl.antennas = Some(antennas);
        net = Network::new(spec).unwrap();
        let mut builder = SnapshotBuilder::new(&net);
        let t = common::epoch().add_ns(secs * 1_000_000_000);
        let snap = builder.build(&sats, t).unwrap();
        let pos = snap.sat_ecef_km().to_vec();
        let mut degree = vec![0u32; net.n_nodes()];
        for l in snap.links() {
            prop_assert!(l.a < l.b);
            degree[l.a as usize] += 1;
            if l.kind == LinkKind::Isl {
                degree[l.b as usize] += 1;
                prop_assert!(l.distance_km <= 6_000.0);
                prop_assert!(tiandi_network::geometry::line_of_sight_clear(pos[l.a as usize], pos[l.b as usize], 80.0));
            } else {
                degree[l.b as usize] += 1;
            }
        }
        let isl_degree = |s: usize| snap.neighbours(s as u32).iter().filter(|a| (a.node as usize) < net.n_satellites()).count() as u32;
        for s in 0..net.n_satellites() {
            prop_assert!(isl_degree(s) <= terminals, "sat {s}");
        }
        // Each station holds at most `antennas` GSLs, and they are its highest satellites.
        for (g, id) in net.station_ids().enumerate() {
            let gs: &GroundStation = &net.spec().stations[g].station;
            let held: Vec<u32> = snap.neighbours(id.0).iter().map(|a| a.node).collect();
            prop_assert!(held.len() as u32 <= antennas);
            let elev = |s: u32| gs.elevation_deg(pos[s as usize]);
            let lowest_held = held.iter().map(|&s| elev(s)).fold(f64::INFINITY, f64::min);
            for s in 0..net.n_satellites() as u32 {
                if !held.contains(&s) && elev(s) >= mask {
                    prop_assert!(held.len() as u32 == antennas && elev(s) <= lowest_held + 1e-9, "station {g} skipped sat {s}");
                }
            }
        }
    }
}

/// Keep-until-lost: a GSL whose satellite is still above the mask at the next step stays.
#[test]
fn keep_until_lost_keeps_visible_satellites() {
    let sats = common::walker(8, 8, 550.0, 53.0);
    let mut net_spec = common::plus_grid_network(sats.len(), 8, common::cities(), 10.0)
        .spec()
        .clone();
    net_spec.links.gsl.antennas = Some(1);
    net_spec.links.gsl.strategy = GslStrategy::KeepUntilLost;
    let keep = Network::new(net_spec.clone()).unwrap();
    net_spec.links.gsl.strategy = GslStrategy::HighestElevation;
    let highest = Network::new(net_spec).unwrap();
    let horizon = Horizon::new(common::epoch(), 3_600_000_000_000, 20_000_000_000).unwrap();
    let gsl_events = |net: &Network| {
        contact_plan(&sats, net, horizon)
            .unwrap()
            .events
            .iter()
            .filter(|e| e.kind == LinkKind::Gsl)
            .count()
    };
    let mut builder = SnapshotBuilder::new(&keep);
    let mut previous: Vec<(u32, u32)> = Vec::new();
    let mut kept = 0;
    for k in 0..horizon.n_steps() {
        let snap = builder.build(&sats, horizon.at(k)).unwrap();
        for &(s, g) in &previous {
            let gs = &keep.spec().stations[g as usize - keep.first_station()].station;
            if gs.elevation_deg(snap.sat_ecef_km()[s as usize]) > 10.0 + 1e-9 {
                assert!(
                    snap.find_link(s, g).is_some(),
                    "GSL {s}-{g} dropped while visible at step {k}"
                );
                kept += 1;
            }
        }
        previous = snap
            .links()
            .iter()
            .filter(|l| l.kind == LinkKind::Gsl)
            .map(|l| (l.a, l.b))
            .collect();
    }
    assert!(kept > 100, "{kept}");
    // And it hands over less than always taking the highest satellite.
    assert!(
        gsl_events(&keep) < gsl_events(&highest),
        "{} vs {}",
        gsl_events(&keep),
        gsl_events(&highest)
    );
}

/// Replaying the contact plan's events gives every snapshot's link set.
#[test]
fn contact_plan_replays_to_snapshots() {
    let sats = common::walker(6, 8, 600.0, 70.0);
    let net = common::plus_grid_network(sats.len(), 6, common::cities(), 20.0);
    let horizon = Horizon::new(common::epoch(), 1_800_000_000_000, 30_000_000_000).unwrap();
    let plan = contact_plan(&sats, &net, horizon).unwrap();
    let mut builder = SnapshotBuilder::new(&net);
    let mut live = std::collections::BTreeSet::new();
    let mut events = plan.events.iter().peekable();
    let mut n_changes = 0;
    for k in 0..horizon.n_steps() {
        let t = horizon.at(k);
        while let Some(e) = events.next_if(|e| e.time <= t) {
            assert_eq!(e.time, t, "events fall on snapshot instants");
            let changed = if e.up {
                live.insert((e.a, e.b, e.kind))
            } else {
                live.remove(&(e.a, e.b, e.kind))
            };
            assert!(changed, "event {e:?} does not change the link set");
            n_changes += 1;
        }
        let snap = builder.build(&sats, t).unwrap();
        let expected: std::collections::BTreeSet<_> =
            snap.links().iter().map(|l| (l.a, l.b, l.kind)).collect();
        assert_eq!(live, expected, "step {k}");
    }
    assert!(
        n_changes > snap_links_at_start(&sats, &net, horizon),
        "GSLs come and go over 30 minutes"
    );
}

fn snap_links_at_start(sats: &[Satellite], net: &Network, horizon: Horizon) -> usize {
    SnapshotBuilder::new(net)
        .build(sats, horizon.start())
        .unwrap()
        .links()
        .len()
}

/// Same inputs, 1 or 2 threads: bit-identical routes and summary; churn equals a direct count.
#[test]
fn results_do_not_depend_on_threads() {
    let sats = common::walker(10, 10, 550.0, 53.0);
    let net = common::plus_grid_network(sats.len(), 10, common::cities(), 20.0);
    let endpoints: Vec<u32> = net.station_ids().map(|i| i.0).collect();
    let horizon = Horizon::new(common::epoch(), 600_000_000_000, 10_000_000_000).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut tl = RouteTimeline::new(
                &sats,
                &net,
                horizon,
                &endpoints,
                RoutingMode::SatellitesOnly,
            )
            .unwrap();
            let mut rows = Vec::new();
            let mut previous: Option<Vec<Vec<u32>>> = None;
            let mut churn = 0;
            while let Some((k, _, table)) = tl.step().unwrap() {
                let paths: Vec<Vec<u32>> = table.pairs().map(|r| r.path.to_vec()).collect();
                if let Some(p) = &previous {
                    churn += p.iter().zip(&paths).filter(|(a, b)| a != b).count() as u64;
                }
                rows.extend(
                    table
                        .routes()
                        .map(|r| (k, r.src, r.dst, r.delay_ms.to_bits(), r.path.to_vec())),
                );
                previous = Some(paths);
            }
            (rows, tl.summary(), churn)
        })
    };
    let (rows1, sum1, churn1) = run(1);
    let (rows2, sum2, churn2) = run(2);
    assert!(!rows1.is_empty());
    assert_eq!(rows1, rows2);
    assert_eq!(sum1, sum2);
    assert_eq!(churn1, churn2);
    assert_eq!(sum1.path_changes, churn1);
    assert!(sum1.path_changes > 0, "paths change over ten minutes");
}
